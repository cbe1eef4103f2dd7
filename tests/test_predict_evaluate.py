"""`mnist evaluate` and `mnist predict` with a small checkpoint trained by the tests themselves."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_toolkit.reading.synthetic import STYLES

from helpers import copy_run, png


@pytest.fixture(scope="module")
def trained_run(shared_run, tmp_path_factory) -> Path:
    """This module's copy of the session's shared run (the fast preset's network, 2 epochs on 6,000 images),
    alone in its runs folder: evaluate saves its reports into the run. The copy has no ONNX model, so
    every command here runs the checkpoint on torch (the ONNX engine is test_export's)."""
    return copy_run(shared_run, tmp_path_factory.mktemp("runs"), onnx=False)


# ------------------------------------------------------------------------------------------- evaluate
def test_evaluate_json_on_a_tiny_pair(cli, trained_run, digit_pair):
    images, labels = digit_pair
    result = cli("evaluate", "--run", trained_run, "--images", images, "--labels", labels, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"checkpoint", "data", "accuracy", "loss", "per_class", "confusion", "images_per_second"} <= set(report)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 16
    assert [row["digit"] for row in report["per_class"]] == list(range(10))
    assert sum(row["support"] for row in report["per_class"]) == 16
    assert set(report["per_class"][0]) == {"digit", "precision", "recall", "f1", "support"}
    assert report["accuracy"] == pytest.approx(100 * np.trace(confusion) / 16)
    assert report["checkpoint"].endswith("last.pt")
    for name in ("confusion.png", "metrics.json"):
        assert (trained_run / "eval" / name).is_file()


def test_evaluate_defaults_to_the_newest_run_and_writes_tensorboard(cli, trained_run):
    result = cli("evaluate", "--runs-dir", trained_run.parent, "--json", "--show", "3")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["images"] == 10_000 and report["data"]["source"] == "embedded"
    assert report["accuracy"] > 90
    assert len(report["misclassified"]) == min(100, round(10_000 * (100 - report["accuracy"]) / 100))
    assert (trained_run / "eval" / "misclassified.png").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained_run)).Reload()
    assert "Eval/accuracy" in events.Tags()["scalars"]
    assert {"Eval/confusion", "Eval/misclassified"} <= set(events.Tags()["images"])
    human = cli("evaluate", "--runs-dir", trained_run.parent, "--show", "2")
    assert "Confusion matrix" in human.stdout and "Per class" in human.stdout and "misclassified" in human.stdout


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    return path


def _truncated(tmp_path: Path, trained_run: Path) -> Path:
    data = (trained_run / "checkpoints" / "last.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(_Exploit.marker),))


def _malicious(tmp_path: Path) -> Path:
    _Exploit.marker = str(tmp_path / "pwned")
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": "mnist-toolkit/1", "x": _Exploit()}))
    return path


@pytest.mark.parametrize("kind", ["missing", "no-runs", "truncated", "foreign", "malicious"])
def test_unusable_checkpoints_are_one_line_errors(cli, tmp_path, trained_run, kind, monkeypatch):
    if kind == "no-runs":  # no run and no pretrained model in the installation (with one, it is used)
        import mnist_toolkit.inference.loading

        monkeypatch.setattr(mnist_toolkit.inference.loading, "PRETRAINED_DIR", tmp_path / "not-installed")
    arguments = {
        "missing": ["--checkpoint", tmp_path / "nope.pt"],
        "no-runs": ["--runs-dir", tmp_path / "empty"],
        "truncated": ["--checkpoint", _truncated(tmp_path, trained_run)] if kind == "truncated" else [],
        "foreign": ["--checkpoint", _foreign(tmp_path)] if kind == "foreign" else [],
        "malicious": ["--checkpoint", _malicious(tmp_path)] if kind == "malicious" else [],
    }[kind]
    for command in (["evaluate"], ["predict", tmp_path / "x.png"]):
        result = cli(*command, *arguments)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error:") and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr and "Hint:" in result.stderr
    assert not (tmp_path / "pwned").exists()  # the crafted pickle's code never ran


# ------------------------------------------------------------------------------------------- predict
@pytest.fixture
def mixed_inputs(tmp_path, mnist_test) -> dict[str, Path]:
    test = mnist_test
    folder = tmp_path / "inputs"
    (folder / "nested").mkdir(parents=True)
    files = {
        "seven": folder / "seven.png",
        "two": folder / "nested" / "two.png",
        "text": folder / "notes.png",
        "empty": folder / "empty.png",
        "blank": folder / "blank.png",
        "truncated": folder / "cut.png",
    }
    files["seven"].write_bytes(png(test.images[0]))  # a 7
    files["two"].write_bytes(png(test.images[1]))  # a 2
    files["text"].write_text("not an image")
    files["empty"].write_bytes(b"")
    files["blank"].write_bytes(png(np.zeros((40, 40), np.uint8)))
    files["truncated"].write_bytes(png(test.images[2])[:40])
    return files


def test_predict_mixes_good_and_bad_files(cli, trained_run, mixed_inputs, tmp_path):
    out = tmp_path / "seen"
    names = [str(p) for p in mixed_inputs.values()] + [str(tmp_path / "missing.png")]
    result = cli("predict", *names, "--run", trained_run, "--json", "--top-k", "3", "--save-preprocessed", out)
    assert result.exit_code == 1
    rows = {Path(row["file"]).name: row for row in json.loads(result.stdout)}
    assert len(rows) == 7
    for row in rows.values():
        assert set(row) == {"file", "digit", "confidence", "top_k", "digit_score", "not_digit", "error", "engine", "model", "origin"}
    assert rows["seven.png"]["digit"] == 7 and rows["two.png"]["digit"] == 2
    assert rows["seven.png"]["error"] is None and len(rows["seven.png"]["top_k"]) == 3
    assert rows["seven.png"]["top_k"][0] == {"digit": 7, "p": rows["seven.png"]["confidence"]}
    assert sum(t["p"] for t in rows["seven.png"]["top_k"]) <= 1.0 + 1e-6
    for bad in ("notes.png", "empty.png", "blank.png", "cut.png", "missing.png"):
        assert rows[bad]["digit"] is None and rows[bad]["error"], bad
    assert "no digit found" in rows["blank.png"]["error"] and "empty" in rows["empty.png"]["error"]
    assert sorted(p.name for p in out.iterdir()) == ["seven.png", "two.png"]
    assert np.asarray(Image.open(out / "seven.png")).shape == (28, 28)


def test_predict_folders_globs_and_human_output(cli, trained_run, mixed_inputs, monkeypatch):
    folder = mixed_inputs["seven"].parent
    # a relative folder, as people type it: a long temporary path would be wrapped inside a name
    monkeypatch.chdir(folder.parent)
    result = cli("predict", folder.name, "--run", trained_run, "--show")
    assert result.exit_code == 1  # the folder holds bad files too
    assert "seven.png" in result.stdout and "two.png" in result.stdout and "no digit found" in result.stdout
    assert "▀" in result.stdout or "▄" in result.stdout or "█" in result.stdout
    model_line, error_line = result.stderr.strip().splitlines()  # which model answered, then the one error line
    assert model_line.startswith("Model: ") and error_line.startswith("Error:")
    good = cli("predict", str(folder / "s*.png"), str(folder / "nested"), "--run", trained_run, "--json")
    assert good.exit_code == 0
    assert [row["digit"] for row in json.loads(good.stdout)] == [7, 2]


def test_predict_reads_stdin(trained_run, mixed_inputs):
    done = subprocess.run(
        [sys.executable, "-m", "mnist_toolkit", "predict", "-", "--run", str(trained_run), "--json"],
        input=mixed_inputs["seven"].read_bytes(), capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["file"] == "<stdin>" and row["digit"] == 7


def test_real_world_renderings_are_read_about_as_well_as_mnist(trained_run, mnist_test):
    """Photos of pen on paper and alpha-only canvases, rendered from MNIST test digits, against the digits themselves."""
    from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model
    from mnist_toolkit.inference.torch_model import TorchModel
    from mnist_toolkit.inference.predict import PredictionRow, predict_rows
    from mnist_toolkit.reading.prepare import decode, naive, prepare_bytes

    model = TorchModel(rebuild_model(load_checkpoint(trained_run / "checkpoints" / "last.pt")))
    test = mnist_test
    images, labels = test.images[1000:1150], test.labels[1000:1150]
    rng = np.random.default_rng(7)

    def accuracy(prepared_images) -> float:
        from mnist_toolkit.reading.prepare import Prepared

        rows = [PredictionRow("x", prepared=Prepared(image, False, False, (28, 28))) for image in prepared_images]
        predict_rows(model, rows)
        return 100 * np.mean([row.digit == label for row, label in zip(rows, labels)])

    reference = accuracy(list(images))
    for style, render in STYLES.items():
        files = [render(digit, rng) for digit in images]
        ours = accuracy([prepare_bytes(data, style).image for data in files])
        plain = accuracy([naive(decode(data, style)) for data in files])
        assert ours >= reference - 6, (style, ours, reference)
        assert ours > plain + 20, (style, ours, plain)


def test_predict_number_json_reads_a_row_left_to_right(cli, trained_run, tmp_path, mnist_test):
    test = mnist_test
    picks = [int(np.flatnonzero(test.labels == d)[0]) for d in (2, 0, 7, 6)]
    page = np.full((120, 60 + 100 * len(picks)), 235.0)
    for i, index in enumerate(picks):
        ink = np.asarray(Image.fromarray(test.images[index]).resize((90, 90), Image.BICUBIC), dtype=float).clip(0, 255) / 255
        page[15:105, 30 + 100 * i : 120 + 100 * i] *= 1 - 0.85 * ink
    path = tmp_path / "row.png"
    path.write_bytes(png(page.astype(np.uint8)))
    result = cli("predict", str(path), "--run", trained_run, "--number", "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert set(row) == {"file", "number", "confidence", "digits", "error", "engine", "model", "origin"} and row["error"] is None
    assert row["number"] == "2076" and len(row["digits"]) == 4  # each digit read at over 95% confidence
    lefts = [d["box"][0] for d in row["digits"]]
    assert lefts == sorted(lefts) and all(set(d) == {"digit", "confidence", "top_k", "box", "digit_score", "not_digit"} for d in row["digits"])
    single = cli("predict", str(path), "--run", trained_run)
    assert "--number" in single.stderr  # several digits read as one: the warning suggests --number
