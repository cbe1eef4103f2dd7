"""'Not a digit': a refused input comes back the same way as 'no digit found' in every front-end (an
error row in `mnist predict`, `NotADigit` from the Python API, `not_digit` in the web API), with
its best guess kept. A stand-in detector decides here; tests/test_digitness.py checks the shipped one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import png, serve_app

from mnist_toolkit.inference import digitness
from mnist_toolkit.inference.answers import NotADigit, NumberReading, readings


class Refuses:
    """A detector that scores inputs with little ink as not digits (threshold 0.5)."""

    threshold = 0.5

    def scores(self, images, contexts=None):
        ink = np.asarray(images).reshape(len(images), -1).mean(axis=1) / 255
        return np.where(ink > 0.05, 0.9, 0.1).astype(np.float32)


def _bar(width: int = 4) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 14 - width // 2 : 14 + width // 2] = 255
    return image


def test_a_refused_reading_keeps_its_best_guess_and_says_why():
    probabilities = np.full((2, 10), 0.02, np.float32)
    probabilities[:, 4] = 0.82
    found = readings(probabilities, [_bar(), _bar()], [None, None], 3, np.array([0.9, 0.1]), 0.5)
    assert found[0].is_digit and found[0].to_json()["digit"] == 4 and found[0].to_json()["not_digit"] is False
    refused = found[1].to_json()
    assert refused["digit"] is None and refused["confidence"] is None and refused["not_digit"] is True
    assert refused["top_k"][0]["digit"] == 4 and refused["digit_score"] == pytest.approx(0.1)
    assert found[1].refusal.startswith("not a digit:") and "best guess 4" in found[1].refusal
    row = NumberReading(found)
    assert row.number is None and row.confidence is None and "mark 2 of 2" in row.refusal
    assert NumberReading(found[:1]).number == "4"


def test_the_python_api_raises_not_a_digit_with_the_best_guess(tmp_path):
    import mnist_toolkit as mt

    model = mt.load_model("pretrained")
    model.detector = Refuses()
    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255  # a dot: little ink, refused by the stand-in
    with pytest.raises(mt.NotADigit) as refused:
        model.read(faint)
    assert isinstance(refused.value, mt.ImageError) and refused.value.reading.top_k
    assert "not a digit" in str(refused.value.message)
    assert model.read(_bar()).digit == 1
    model.detector = None  # no detector: everything is read as a digit, as before
    assert model.read(faint).digit in range(10)
    with pytest.raises(NotADigit):
        model.detector = Refuses()
        model.read_number(faint)


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr(digitness, "shipped_detector", lambda: Refuses())


def test_predict_shows_a_refusal_as_an_error_row(cli, tmp_path, stand_in):
    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    (tmp_path / "dot.png").write_bytes(png(faint))
    (tmp_path / "one.png").write_bytes(png(_bar()))
    result = cli("predict", tmp_path / "dot.png", tmp_path / "one.png", "--runs-dir", tmp_path / "none", "--json")
    assert result.exit_code == 1
    dot, one = json.loads(result.stdout)
    assert dot["digit"] is None and dot["not_digit"] is True and "not a digit" in dot["error"] and dot["top_k"]
    assert one["digit"] == 1 and one["not_digit"] is False and one["error"] is None
    table = cli("predict", tmp_path / "dot.png", "--runs-dir", tmp_path / "none")
    assert table.exit_code == 1 and "not a digit" in table.stdout


def test_the_web_api_answers_not_a_digit_with_200_and_the_input(tmp_path, stand_in):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    client = TestClient(create_app(ModelCatalog(tmp_path / "none")), base_url="http://127.0.0.1")
    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    answer = client.post("/api/predict", content=png(faint))
    assert answer.status_code == 200
    body = answer.json()
    assert body["not_digit"] is True and body["digit"] is None and body["error"].startswith("not a digit") and body["input_png"]
    read = client.post("/api/predict", content=png(_bar())).json()
    assert read["digit"] == 1 and read["not_digit"] is False


def test_no_digit_check_reads_a_refused_input_as_a_digit_and_the_hint_says_so(cli, tmp_path, stand_in):
    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    (tmp_path / "dot.png").write_bytes(png(faint))
    refused = cli("predict", tmp_path / "dot.png", "--runs-dir", tmp_path / "none")
    assert refused.exit_code == 1
    assert "Hint: if a refused image does hold a digit, --no-digit-check reads it anyway" in refused.stderr
    missing = cli("predict", tmp_path / "dot.png", tmp_path / "gone.png", "--runs-dir", tmp_path / "none")
    assert "Hint: check the file names (folders" in missing.stderr and "--no-digit-check reads it anyway" in missing.stderr
    assert "single digit in a common format" not in missing.stderr  # the missing file is all that is wrong besides the refusal
    (tmp_path / "text.png").write_bytes(b"not an image")
    broken = cli("predict", tmp_path / "dot.png", tmp_path / "text.png", "--runs-dir", tmp_path / "none")
    assert "Hint: use images of a single digit in a common format; if a refused image" in broken.stderr
    unreadable = cli("predict", tmp_path / "gone.png", "--runs-dir", tmp_path / "none")
    assert "--no-digit-check" not in unreadable.stderr  # only when something was refused as not a digit
    read = cli("predict", tmp_path / "dot.png", "--runs-dir", tmp_path / "none", "--no-digit-check", "--json")
    assert read.exit_code == 0, read.stderr
    (row,) = json.loads(read.stdout)
    assert row["digit"] in range(10) and row["not_digit"] is False and row["digit_score"] is None and row["error"] is None
    assert 'no "not a digit" check' in read.stderr
    number = cli("predict", "--number", tmp_path / "dot.png", "--runs-dir", tmp_path / "none", "--json")
    assert number.exit_code == 1 and json.loads(number.stdout)[0]["digits"][0]["not_digit"] is True
    assert "--no-digit-check reads it anyway" in number.stderr
    number = cli("predict", "--number", tmp_path / "dot.png", "--runs-dir", tmp_path / "none", "--json", "--no-digit-check")
    (row,) = json.loads(number.stdout)
    assert number.exit_code == 0 and row["number"] is not None and row["digits"][0]["not_digit"] is False


def test_the_python_api_and_the_server_can_read_without_the_check(tmp_path, stand_in):
    import mnist_toolkit as mt
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    with pytest.raises(mt.NotADigit):
        mt.load_model("pretrained").read(faint)
    unchecked = mt.load_model("pretrained", not_a_digit=False)
    assert unchecked.detector is None and unchecked.read(faint).digit in range(10)
    client = TestClient(create_app(ModelCatalog(tmp_path / "none", digit_check=False)), base_url="http://127.0.0.1")
    body = client.post("/api/predict", content=png(faint)).json()
    assert body["not_digit"] is False and body["digit"] in range(10) and body["digit_score"] is None


def test_serve_without_the_check_reads_a_refused_input_and_says_so(cli, monkeypatch, tmp_path, stand_in):
    from starlette.testclient import TestClient

    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    said = []
    checked = TestClient(serve_app(cli, monkeypatch, tmp_path / "none", stderr=said).app, base_url="http://127.0.0.1:8123")
    assert checked.post("/api/predict", content=png(faint)).json()["not_digit"] is True
    unchecked = TestClient(serve_app(cli, monkeypatch, tmp_path / "none", "--no-digit-check", stderr=said).app, base_url="http://127.0.0.1:8123")
    body = unchecked.post("/api/predict", content=png(faint)).json()
    assert body["not_digit"] is False and body["digit"] in range(10)
    assert unchecked.post("/api/predict?digit_check=true", content=png(faint)).json()["not_digit"] is True  # a request may still ask
    assert unchecked.get("/api/models").json()["digit_check"] == {"default": False, "available": True}  # the page starts unticked
    assert 'not a digit" check' not in said[0] and 'no "not a digit" check' in said[1]


def test_the_web_api_reads_without_the_check_when_asked(tmp_path, stand_in):
    from starlette.testclient import TestClient

    from mnist_toolkit.serving.app import create_app
    from mnist_toolkit.serving.catalog import ModelCatalog

    client = TestClient(create_app(ModelCatalog(tmp_path / "none")), base_url="http://127.0.0.1")
    faint = np.zeros((28, 28), np.uint8)
    faint[12:15, 12:15] = 255
    for query in ("", "?digit_check=true", "?digit_check=yes"):
        assert client.post("/api/predict" + query, content=png(faint)).json()["not_digit"] is True, query
    for odd in ("", "tru", "enabled"):  # an unknown value is an error, not silently "off"
        answer = client.post(f"/api/predict?digit_check={odd}", content=png(faint))
        assert answer.status_code == 400 and "digit_check must be true or false" in answer.json()["error"], odd
    assert client.get("/api/models").json()["digit_check"] == {"default": True, "available": True}
    assert client.post("/api/predict?number=maybe", content=png(faint)).status_code == 400  # the same rule for every switch
    body = client.post("/api/predict?digit_check=false", content=png(faint)).json()
    assert body["not_digit"] is False and body["digit"] in range(10) and body["digit_score"] is None and "error" not in body
    number = client.post("/api/predict?number=true&digit_check=0", content=png(faint)).json()
    assert number["number"] is not None and number["digits"][0]["not_digit"] is False
