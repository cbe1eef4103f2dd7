// mnist serve: the drawing page. Plain JavaScript, no dependencies.
"use strict";

const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const modelPicker = document.getElementById("model");
const numberSwitch = document.getElementById("number");
const digitCheckSwitch = document.getElementById("digit-check");
let digitCheckSet = false; // the switch has been set from the server's default once
const errorLine = document.getElementById("error");
let drawing = false;
let drawn = false;
let last = null;
let timer = null;
let lastImage = null; // the blob last sent (a drawing or an upload), re-read when the model changes
let sequence = 0;
let lastAnswer = null; // the answer shown, rendered again when another of its digits is picked
let shownDigit = 0; // in "several digits" mode: the digit whose probabilities and input are shown large

function clearExplanation(note = "") {
  document.getElementById("feature-maps").innerHTML = "";
  document.getElementById("saliency").removeAttribute("src");
  document.getElementById("saliency-method").textContent = note;
}

function clearCanvas() {
  sequence++; // answers still on their way belong to what was cleared
  clearTimeout(timer);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  drawn = false;
  lastImage = null;
  lastAnswer = null;
  shownDigit = 0;
  document.getElementById("prediction").classList.remove("refused");
  document.getElementById("prediction").textContent = "?";
  document.getElementById("confidence").textContent = "";
  document.getElementById("probabilities").innerHTML = "";
  document.getElementById("digits").innerHTML = "";
  document.getElementById("shown-digit").textContent = "";
  document.getElementById("model-input").removeAttribute("src");
  clearExplanation();
  errorLine.textContent = "";
}

function point(event) {
  const rect = canvas.getBoundingClientRect();
  return { x: (event.clientX - rect.left) * canvas.width / rect.width, y: (event.clientY - rect.top) * canvas.height / rect.height };
}

function stroke(from, to) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 18; // about 2 px of a 28 x 28 field once the digit is fitted to 20 px, like MNIST's pens
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
}

canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  last = point(event);
  stroke(last, last);
  drawn = true;
  canvas.setPointerCapture(event.pointerId);
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const next = point(event);
  stroke(last, next);
  last = next;
  schedule();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  clearTimeout(timer);
  sendDrawing(); // at once: the end of a stroke is when the answer matters most
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

function schedule(delay = 150) { // while drawing: debounced
  clearTimeout(timer);
  timer = setTimeout(sendDrawing, delay);
}

function sendDrawing() { if (drawn) send(canvasPng()); }

// The canvas as a PNG blob, encoded now. Not canvas.toBlob (nor OffscreenCanvas.convertToBlob): Chromium
// encodes those in idle periods only, or after waiting 1 s for one, and a busy or headless page may have
// none. toDataURL encodes at once, about 1 ms for this 280 x 280 canvas.
function canvasPng() {
  const url = canvas.toDataURL("image/png");
  const bytes = atob(url.slice(url.indexOf(",") + 1));
  const data = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) data[i] = bytes.charCodeAt(i);
  return new Blob([data], { type: "image/png" });
}

async function send(blob) {
  lastImage = blob;
  const id = ++sequence;
  const query = new URLSearchParams(); // top_k: the server's default
  if (modelPicker.value) query.set("model", modelPicker.value);
  if (numberSwitch.checked) query.set("number", "true");
  query.set("digit_check", digitCheckSwitch.checked ? "true" : "false");
  try {
    const response = await fetch("/api/predict?" + query, { method: "POST", body: blob, headers: { "Content-Type": "application/octet-stream" } });
    const answer = await response.json().catch(() => ({ error: response.status + " " + response.statusText }));
    if (id !== sequence) return; // an older answer arriving late
    if (response.status === 503) { // the server is busy: ask again after the time it names, unless something newer was sent
      const wait = 1000 * (Number(response.headers.get("Retry-After")) || 1);
      setTimeout(() => { if (id === sequence) send(blob); }, wait);
      return;
    }
    if (!response.ok) { showError(answer.error || response.statusText); clearExplanation(); return; }
    errorLine.textContent = answer.warning || "";
    show(answer);
    document.getElementById("saliency-figure").hidden = numberSwitch.checked;
    if (numberSwitch.checked) clearExplanation("Shown for one digit at a time: switch off \"several digits\" to see them.");
    else explain(blob, id);
  } catch (error) {
    if (id === sequence) showError(String(error));
  }
}

function showError(message) {
  errorLine.textContent = message;
  document.getElementById("prediction").classList.remove("refused");
  document.getElementById("prediction").textContent = "?";
  document.getElementById("confidence").textContent = "";
}

// Renders one answer of /api/predict, whatever its kind: the one place that decides what the page shows
// for an answer (a single digit, or a number read digit by digit).
function show(answer) {
  lastAnswer = answer;
  const number = answer.number !== undefined;
  document.getElementById("prediction").classList.toggle("refused", Boolean(answer.not_digit));
  if (answer.not_digit) {  // ink that does not look like a digit: say so, keep showing what was seen
    document.getElementById("prediction").textContent = "not a digit";
    document.getElementById("confidence").textContent = (answer.error || "") + " (untick \"refuse non-digits\" to read it anyway)";
  } else {
    document.getElementById("prediction").textContent = number ? answer.number : String(answer.digit);
    document.getElementById("confidence").textContent = percent(answer.confidence) + " sure";
  }
  document.getElementById("engine").textContent = answer.model + " on " + answer.engine;
  const digits = document.getElementById("digits");
  digits.innerHTML = "";
  const caption = document.getElementById("shown-digit");
  if (!number) {
    caption.textContent = "";
    showDigit(answer);
    return;
  }
  shownDigit = Math.min(shownDigit, answer.digits.length - 1);
  answer.digits.forEach((d, index) => digits.appendChild(digitRow(d, index, index === shownDigit)));
  caption.textContent = "Digit " + (shownDigit + 1) + " of " + answer.digits.length + " below" +
    (answer.digits.length > 1 ? " (pick another above)" : "") + ":";
  showDigit(answer.digits[shownDigit]);
}

function percent(p) { return (100 * p).toFixed(1) + " %"; }

// One digit's probabilities as the large bars, and its 28 x 28 input.
function showDigit(reading) {
  const bars = document.getElementById("probabilities");
  bars.innerHTML = "";
  const best = reading.probabilities.indexOf(Math.max(...reading.probabilities));
  reading.probabilities.forEach((p, digit) => {
    const label = document.createElement("span");
    label.textContent = digit;
    const track = document.createElement("div");
    const bar = document.createElement("div");
    bar.className = "bar" + (digit === best ? " top" : "");
    bar.style.width = (100 * p).toFixed(1) + "%";
    bar.dataset.testid = "bar-" + digit;
    track.appendChild(bar);
    const value = document.createElement("span");
    value.textContent = (100 * p).toFixed(1) + "%";
    bars.append(label, track, value);
  });
  document.getElementById("model-input").src = "data:image/png;base64," + reading.input_png;
}

// One digit of a number, as a compact row: its input, what it was read as, and its ten probabilities as
// small columns. Picking the row shows that digit in the large bars.
function digitRow(reading, index, selected) {
  const row = document.createElement("button");
  row.type = "button";
  row.className = "digit-row" + (selected ? " selected" : "");
  row.dataset.testid = "digit-row";
  row.setAttribute("aria-pressed", String(selected));
  row.setAttribute("aria-label", "digit " + (index + 1) + ": " + (reading.not_digit ? "not a digit" : "read as " + reading.digit + ", " + percent(reading.confidence) + " sure"));
  const img = document.createElement("img");
  img.className = "pixels";
  img.alt = "";
  img.dataset.testid = "digit-input";
  img.src = "data:image/png;base64," + reading.input_png;
  const label = document.createElement("span");
  label.className = "digit-read";
  label.dataset.testid = "digit-prediction";
  label.textContent = reading.not_digit ? "?" : reading.digit;
  const sure = document.createElement("span");
  sure.className = "muted";
  sure.textContent = reading.not_digit ? "not a digit" : (100 * reading.confidence).toFixed(0) + "%";
  const columns = document.createElement("span");
  columns.className = "mini-bars";
  columns.dataset.testid = "digit-probabilities";
  const best = reading.probabilities.indexOf(Math.max(...reading.probabilities));
  reading.probabilities.forEach((p, digit) => {
    const column = document.createElement("span");
    column.className = "mini";
    column.title = digit + ": " + percent(p);
    const track = document.createElement("span");
    track.className = "mini-track";
    const bar = document.createElement("span");
    bar.className = "bar" + (digit === best ? " top" : "");
    bar.style.height = (100 * p).toFixed(1) + "%";
    track.appendChild(bar);
    const name = document.createElement("span");
    name.textContent = digit;
    column.append(track, name);
    columns.appendChild(column);
  });
  row.append(img, label, sure, columns);
  row.addEventListener("click", () => {
    shownDigit = index;
    if (lastAnswer) show(lastAnswer);
  });
  return row;
}

async function explain(blob, id) {
  const query = new URLSearchParams();
  if (modelPicker.value) query.set("model", modelPicker.value);
  const response = await fetch("/api/explain?" + query, { method: "POST", body: blob }).catch(() => null);
  if (id !== sequence) return;
  if (!response || !response.ok) { clearExplanation(); return; }
  const seen = await response.json().catch(() => null);
  if (!seen || id !== sequence) return;
  document.getElementById("saliency").src = "data:image/png;base64," + seen.saliency_png;
  document.getElementById("saliency-method").textContent = "Method: " + seen.saliency;
  const holder = document.getElementById("feature-maps");
  holder.innerHTML = "";
  seen.feature_maps.forEach((layer) => {
    const block = document.createElement("div");
    block.className = "layer";
    const title = document.createElement("div");
    title.className = "muted";
    title.textContent = layer.layer + ": " + layer.channels + " channels, " + layer.size.join(" x ");
    const grid = document.createElement("div");
    grid.className = "maps";
    layer.maps.forEach((png) => {
      const img = document.createElement("img");
      img.className = "pixels";
      img.src = "data:image/png;base64," + png;
      grid.appendChild(img);
    });
    block.append(title, grid);
    holder.appendChild(block);
  });
}

function useFile(file) {
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    const img = new Image();
    img.onload = () => {
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      const scale = Math.min(canvas.width / img.width, canvas.height / img.height);
      ctx.drawImage(img, (canvas.width - img.width * scale) / 2, (canvas.height - img.height * scale) / 2, img.width * scale, img.height * scale);
      drawn = false; // the preview is not a drawing: the file itself is read, at full resolution
    };
    img.src = reader.result;
  };
  reader.readAsDataURL(file);
  send(file);
}

document.getElementById("upload").addEventListener("change", (event) => useFile(event.target.files[0]));
canvas.addEventListener("dragover", (event) => { event.preventDefault(); canvas.classList.add("dragging"); });
canvas.addEventListener("dragleave", () => canvas.classList.remove("dragging"));
canvas.addEventListener("drop", (event) => {
  event.preventDefault();
  canvas.classList.remove("dragging");
  useFile(event.dataTransfer.files[0]);
});
document.getElementById("clear").addEventListener("click", clearCanvas);
modelPicker.addEventListener("change", () => { if (lastImage) send(lastImage); });
numberSwitch.addEventListener("change", () => { if (lastImage) send(lastImage); });
digitCheckSwitch.addEventListener("change", () => { if (lastImage) send(lastImage); });

// The model list; when it cannot be had (the server down, or an error answer), the page says so instead
// of leaving the picker silently empty.
async function loadModels() {
  const banner = document.getElementById("model-list-error");
  let listing;
  try {
    const response = await fetch("/api/models");
    listing = await response.json().catch(() => null);
    if (!response.ok || !listing || !Array.isArray(listing.models)) {
      throw new Error((listing && listing.error) || response.status + " " + response.statusText);
    }
  } catch (error) {
    document.getElementById("model-list-error-text").textContent =
      "Could not load the list of models (" + (error.message || error) + "): is the server running?";
    banner.hidden = false;
    return;
  }
  banner.hidden = true;
  const check = listing.digit_check || {};
  if (!digitCheckSet) { // the server's default (mnist serve --no-digit-check: unticked), then the user's choice
    digitCheckSwitch.checked = check.available !== false && check.default !== false;
    digitCheckSet = true;
  }
  digitCheckSwitch.disabled = check.available === false;
  digitCheckSwitch.parentElement.title = check.available === false ? "No \"not a digit\" detector in this installation" : "Untick to read anything as a digit";
  modelPicker.innerHTML = "";
  listing.models.forEach((m) => {
    const option = document.createElement("option");
    option.value = m.id;
    option.textContent = m.label + (m.test_accuracy != null ? " - " + m.test_accuracy.toFixed(2) + " %" : "");
    if (m.usable === false) { // listed with the reason its files cannot be loaded; not selectable
      option.disabled = true;
      option.textContent += " - cannot be used";
      option.title = m.error || "";
    }
    option.selected = m.default && m.usable !== false;
    modelPicker.appendChild(option);
  });
}

document.getElementById("model-list-retry").addEventListener("click", loadModels);

clearCanvas();
loadModels();
