"""The shipped 'not a digit' detector, end to end: a drawn star and blank paper with texture are refused
through the CLI and the web API, real digits are not, `predict_proba` still gives ten probabilities,
and the detector's own path never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import drawn_star, png
from PIL import Image

from mnist_toolkit.inference import digitness

pytestmark = pytest.mark.skipif(digitness.shipped_detector() is None, reason="the package ships no detector")


def _textured_blank(size: int = 240) -> np.ndarray:
    """Blank paper photographed: a weave texture, grain and a lighting gradient, no ink."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size]
    weave = 12 * np.sin(x / 3.0) * np.sin(y / 3.0)
    grain = rng.normal(0, 10, (size, size))
    return 200 + weave + grain - 40 * x / size


def _digit_on_paper(digit: np.ndarray) -> np.ndarray:
    page = np.full((200, 200), 230.0)
    ink = np.asarray(Image.fromarray(digit).resize((120, 120), Image.BICUBIC), np.float64).clip(0, 255) / 255
    page[40:160, 40:160] *= 1 - 0.85 * ink
    return page


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist_test):
    folder = tmp_path_factory.mktemp("digitness")
    paths = {"star": folder / "star.png", "blank": folder / "blank.png", "seven": folder / "seven.png"}
    paths["star"].write_bytes(png(drawn_star()))
    paths["blank"].write_bytes(png(_textured_blank()))
    paths["seven"].write_bytes(png(_digit_on_paper(mnist_test.images[0])))  # the first test digit: a 7
    return paths


def test_predict_refuses_a_star_and_textured_paper_and_reads_a_digit(cli, images, tmp_path):
    result = cli("predict", "--run", "pretrained", images["star"], images["blank"], images["seven"], "--json")
    assert result.exit_code == 1
    star, blank, seven = json.loads(result.stdout)
    assert star["digit"] is None and star["not_digit"] is True and "not a digit:" in star["error"]
    assert star["top_k"] and 0 <= star["digit_score"] < 0.5
    assert blank["digit"] is None and blank["error"] and "digit" in blank["error"]  # no digit found, or not a digit
    assert seven["digit"] == 7 and seven["not_digit"] is False and seven["digit_score"] > 0.5


def test_the_web_api_refuses_a_star_and_reads_a_digit(images, tmp_path):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    client = TestClient(create_app(ModelCatalog(tmp_path / "none")), base_url="http://127.0.0.1")
    star = client.post("/api/predict", content=images["star"].read_bytes())
    assert star.status_code == 200 and star.json()["not_digit"] is True and star.json()["digit"] is None
    blank = client.post("/api/predict", content=images["blank"].read_bytes())
    assert blank.status_code in (200, 400) and blank.json().get("digit") is None and blank.json()["error"]  # not a digit, or no digit found
    seven = client.post("/api/predict", content=images["seven"].read_bytes()).json()
    assert seven["digit"] == 7 and seven["not_digit"] is False


def test_the_mnist_test_digits_pass_and_predict_proba_keeps_ten_columns(mnist_test):
    import mnist_toolkit as mt

    detector = digitness.shipped_detector()
    assert detector.is_digit(mnist_test.images[:2000]).mean() >= 0.995
    model = mt.load_model("pretrained")
    assert model.predict_proba(mnist_test.images[:5]).shape == (5, 10)


def test_specks_give_no_number(cli, tmp_path):
    rng = np.random.default_rng(2)
    page = np.full((200, 600), 235.0)
    ys, xs = rng.integers(0, 200, 500), rng.integers(0, 600, 500)
    page[ys, xs] = 20
    (tmp_path / "specks.png").write_bytes(png(page))
    result = cli("predict", "--run", "pretrained", "--number", tmp_path / "specks.png", "--json")
    row = json.loads(result.stdout)[0]
    assert result.exit_code == 1 and row.get("number") is None and "digit" in row["error"]


def test_the_detector_never_imports_torch(mnist_test, tmp_path):
    np.save(tmp_path / "digits.npy", mnist_test.images[:8])
    code = ("import sys, numpy as np; from mnist_toolkit.inference.digitness import shipped_detector; "
            f"print(shipped_detector().scores(np.load({str(tmp_path / 'digits.npy')!r})).shape, 'torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False"
