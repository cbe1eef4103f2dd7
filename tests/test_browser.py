"""The drawing page for real: Playwright drives Debian's Chromium (headless) against `mnist serve` on 127.0.0.1.

Needs `/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it). Without it these tests
are skipped on a developer's machine and fail in CI (CI=true), so that CI never passes by skipping them.
A screenshot of the page under test is saved to test-output/serve-page.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
OUTPUT = Path(os.environ.get("MNIST_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))

if CHROMIUM is None:
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing: .ci/run should have installed it (apt-get install chromium)", pytrace=False)
    pytest.skip("no Chromium (apt-get install chromium) for the browser tests", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(shared_runs):
    """`mnist serve`'s app on 127.0.0.1 in a thread: the session's shared run plus the pretrained model."""
    import uvicorn

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    runs = shared_runs
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(create_app(ModelCatalog(runs, default="pretrained")), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", runs
    instance.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("[data-testid=model-picker] option", state="attached")
    yield page
    context.close()


def _draw(page, strokes):
    box = page.get_by_test_id("canvas").bounding_box()
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()


def test_drawing_a_digit_shows_the_prediction_and_probabilities(page):
    _draw(page, [[(0.30, 0.22), (0.70, 0.22), (0.45, 0.80)]])  # a 7
    page.wait_for_function("document.querySelector('[data-testid=prediction]').textContent !== '?'")
    assert page.get_by_test_id("prediction").text_content() == "7"
    assert page.locator("[data-testid=probabilities] .bar").count() == 10
    assert page.get_by_test_id("model-input").get_attribute("src").startswith("data:image/png;base64,")
    page.wait_for_selector("[data-testid=feature-maps] img")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "serve-page.png"), full_page=True)
    page.get_by_test_id("clear").click()
    assert page.get_by_test_id("prediction").text_content() == "?"


def test_uploading_a_photo_reads_it(page, tmp_path, mnist_test):
    digits = mnist_test
    sheet = np.full((300, 400), 228, np.uint8)
    sheet += np.linspace(0, 20, 400, dtype=np.uint8)[None, :]  # uneven light
    big = np.array(Image.fromarray(255 - digits.images[1]).resize((140, 140), Image.BILINEAR))
    sheet[80:220, 130:270] = np.minimum(sheet[80:220, 130:270], big)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(sheet).save(photo, quality=90)
    page.get_by_test_id("upload").set_input_files(str(photo))
    page.wait_for_function("document.querySelector('[data-testid=prediction]').textContent !== '?'")
    assert page.get_by_test_id("prediction").text_content() == str(int(digits.labels[1]))


def test_switching_models(page, server):
    """The same drawing, read again by the model picked: a clear upright 1. Both models read this stroke
    as a 1 at over 88% confidence (checked on the canvas's rendering at pen widths 14 to 22 px, anywhere
    on the canvas); `expect` waits out answers to a half-drawn stroke still on their way."""
    from playwright.sync_api import expect

    _, runs = server
    _draw(page, [[(0.5, 0.15), (0.5, 0.85)]])  # a 1
    page.wait_for_function("document.getElementById('engine').textContent.startsWith('pretrained')")
    expect(page.get_by_test_id("prediction")).to_have_text("1")
    run_id = next(runs.iterdir()).name
    page.get_by_test_id("model-picker").select_option(run_id)
    page.wait_for_function(f"document.getElementById('engine').textContent.startsWith('{run_id}')")
    expect(page.get_by_test_id("prediction")).to_have_text("1")
