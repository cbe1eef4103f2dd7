"""Rebuild the documentation's pictures in docs/_static/ (they are committed; rerun after a change).

- reading-steps.png: how `mnist predict --number` reads a phone photo of a written number, step by
  step (the photo, the paper estimate, the ink, the groups, the 28x28 inputs), from the toolkit's own
  reading functions on an image of benchmarks/realworld_sets.py (MNIST test digits on paper);
- realworld.png, engines.png, serve-load.png: plots of benchmarks/results/*.json (matplotlib);
- page.png: the web page reading a drawn 7, and tensorboard.png: TensorBoard showing a short run,
  both in headless Chromium through Playwright (Debian's chromium, as the browser tests use);
- with --site: screenshots of two built pages of the site (build it first with the README's docs
  command), site-reading.png and site-train.png.

Usage: poetry run python docs/make_pictures.py [--only NAME,...] [--site]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "docs" / "_static"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=110)


def _save(plt, figure, out: Path) -> None:
    figure.tight_layout()
    figure.savefig(out, bbox_inches="tight")
    plt.close(figure)


def reading_steps(out: Path) -> None:
    from PIL import Image

    from realworld_sets import build_set

    from mnist_toolkit.reading.ink import find_ink
    from mnist_toolkit.reading.prepare import decode, prepare_number_bytes, to_gray
    from mnist_toolkit.reading.segment import digit_groups, in_row

    sample = build_set("numbers", 4, seed=3)[2]
    photo = decode(sample.data, "number")
    gray = to_gray(photo)
    found = find_ink(gray)
    labels, groups = digit_groups(found.mask, found.contrast)
    groups = in_row(groups)
    inputs = prepare_number_bytes(sample.data, "number")
    plt, figure = _figure(12, 2.6)
    panels = [(np.asarray(photo.convert("RGB")), "1. the photo", None), (found.background, "2. the paper (estimated)", "gray"),
              (found.contrast, "3. ink contrast against it", "magma"), (found.mask, "4. the ink, in groups", "gray_r")]  # fmt: skip
    grid = figure.add_gridspec(1, len(panels) + 1, width_ratios=[1] * len(panels) + [0.9])
    for index, (image, title, cmap) in enumerate(panels):
        axis = figure.add_subplot(grid[0, index])
        axis.imshow(image, cmap=cmap, vmin=0 if cmap == "gray" else None, vmax=1 if cmap == "gray" else None)
        axis.set_title(title, fontsize=10)
        axis.set_axis_off()
        if index == 3:
            for group in groups:
                axis.add_patch(plt.Rectangle((group.left - 0.5, group.top - 0.5), group.width, group.height, fill=False, color="tab:red", lw=1.5))
    strip = np.hstack([np.pad(p.image, 2, constant_values=128) for p in inputs])
    axis = figure.add_subplot(grid[0, len(panels)])
    axis.imshow(strip, cmap="gray", vmin=0, vmax=255)
    axis.set_title(f"5. the 28x28 inputs (label {sample.label})", fontsize=10)
    axis.set_axis_off()
    _save(plt, figure, out)
    Image.open(out).verify()


def realworld(out: Path) -> None:
    result = json.loads((RESULTS / "predict_realworld.json").read_text())
    pretrained = next(key for key in result["models"] if "pretrained" in key)
    sets = [name for name, by_model in result["sets"].items() if by_model.get(pretrained, {}).get("current", {}) and by_model[pretrained]["current"].get("accuracy") is not None]
    plt, figure = _figure(9, 3.6)
    axis = figure.add_subplot()
    x = np.arange(len(sets))
    for offset, (step, label) in zip((-0.27, 0, 0.27), [("naive", "naive resize"), ("previous", "earlier reading"), ("current", "the reading today")]):
        values = [result["sets"][name][pretrained].get(step, {}).get("accuracy") or 0 for name in sets]
        axis.bar(x + offset, values, width=0.26, label=label)
    axis.set_xticks(x, [name.replace(", ", ",\n") for name in sets], fontsize=8)
    axis.set_ylabel("accuracy, %")
    axis.set_ylim(0, 100)
    axis.set_title(f"Real-world sets, pretrained model ({result['count']} images each, {result['split']} split, {result['date']})", fontsize=10)
    axis.legend(fontsize=8, loc="lower right")
    _save(plt, figure, out)


def engines(out: Path) -> None:
    result = json.loads((RESULTS / "engines.json").read_text())
    plt, figure = _figure(8, 3)
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    runs = result["predict_seconds"]["all"]
    left.boxplot([runs["onnx"], runs["torch"]], tick_labels=["ONNX Runtime", "torch"])
    left.set_ylabel("seconds")
    left.set_title("`mnist predict one.png`, cold process", fontsize=10)
    speed = result["evaluate_images_per_second"]["median"]
    right.bar(["ONNX Runtime", "torch"], [speed["onnx"], speed["torch"]], color=["tab:blue", "tab:orange"])
    right.set_ylabel("images / s")
    right.set_title("`mnist evaluate`, test set", fontsize=10)
    figure.suptitle(f"{result['model']} model, {result['machine']}, {result['date']}", fontsize=9)
    _save(plt, figure, out)


def serve_load(out: Path) -> None:
    result = json.loads((RESULTS / "serve_load.json").read_text())
    plt, figure = _figure(6, 3)
    axis = figure.add_subplot()
    latency = result["latency_ms"]
    axis.bar(list(latency), list(latency.values()), color="tab:blue")
    axis.set_ylabel("latency, ms")
    axis.set_title(f"`mnist serve`: {result['clients']} clients, {result['requests']} requests, "
                   f"{result['requests_per_second']:.1f} requests/s, {result['errors']} errors ({result['cpu_count']} cores)", fontsize=9)  # fmt: skip
    _save(plt, figure, out)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _process(command: list[str], url: str, cwd: Path | None = None):
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)  # noqa: S310 (127.0.0.1 only)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command[0]} did not answer at {url}") from None
                time.sleep(0.3)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def _browser():
    from playwright.sync_api import sync_playwright

    chromium_path = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def page(out: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as empty, _process([sys.executable, "-m", "mnist_toolkit", "serve", "--port", str(port), "--runs-dir", empty], url), _browser() as browser:
        view = browser.new_page(viewport={"width": 1200, "height": 820})
        view.goto(url)
        view.wait_for_selector("[data-testid=model-picker] option", state="attached")
        box = view.get_by_test_id("canvas").bounding_box()
        points = [(0.30, 0.22), (0.70, 0.22), (0.45, 0.80)]  # a 7
        view.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
        view.mouse.down()
        for x, y in points[1:]:
            view.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=10)
        view.mouse.up()
        deadline = time.monotonic() + 30
        while view.get_by_test_id("prediction").text_content() == "?" and time.monotonic() < deadline:
            view.wait_for_timeout(50)
        view.wait_for_selector("[data-testid=feature-maps] img")
        view.wait_for_timeout(300)
        view.screenshot(path=str(out), full_page=True)


def tensorboard(out: Path) -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as runs:
        subprocess.run([sys.executable, "-m", "mnist_toolkit", "train", "--preset", "fast", "--epochs", "2", "--train-limit", "6000",
                        "--runs-dir", runs, "--no-onnx", "--quiet"], check=True)  # fmt: skip
        board = shutil.which("tensorboard", path=str(Path(sys.executable).parent)) or "tensorboard"
        url = f"http://127.0.0.1:{port}/"
        with _process([board, "--logdir", runs, "--host", "127.0.0.1", "--port", str(port)], url), _browser() as browser:
            view = browser.new_page(viewport={"width": 1300, "height": 900})
            view.goto(url + "?darkMode=false#timeseries")
            view.wait_for_timeout(6000)
            view.screenshot(path=str(out))


def site(out_dir: Path) -> None:
    built = ROOT / "docs" / "_build" / "html"
    if not (built / "index.html").is_file():
        raise SystemExit("build the site first (the README's docs command)")
    with _browser() as browser:
        for page_path, name in [("reading.html", "site-reading.png"), ("commands/train.html", "site-train.png")]:
            view = browser.new_page(viewport={"width": 1280, "height": 900})
            view.goto((built / page_path).as_uri())
            view.wait_for_timeout(500)
            view.screenshot(path=str(out_dir / name))


PICTURES = {"reading-steps.png": reading_steps, "realworld.png": realworld, "engines.png": engines,
            "serve-load.png": serve_load, "page.png": page, "tensorboard.png": tensorboard}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated picture names")
    parser.add_argument("--site", action="store_true", help="screenshots of two built pages instead (docs/_build/screens)")
    args = parser.parse_args()
    if args.site:
        screens = ROOT / "docs" / "_build" / "screens"
        screens.mkdir(parents=True, exist_ok=True)
        site(screens)
        print(f"wrote {screens}")
        return
    STATIC.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else set(PICTURES)
    for name, make in PICTURES.items():
        if name in wanted:
            started = time.perf_counter()
            make(STATIC / name)
            print(f"{name}: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
