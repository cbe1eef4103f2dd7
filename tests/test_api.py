"""The Python API, used as a notebook would: only `import mnist_toolkit as mt` and its public names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mnist_toolkit as mt
from helpers import png  # test data only: a PNG encoder

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def test_digits():
    images, labels = mt.load_mnist("test")
    return images[:300], labels[:300]


@pytest.fixture(scope="module")
def pretrained():
    return mt.load_model("pretrained")


def test_every_public_name_resolves_and_says_what_it_is():
    assert "__version__" in mt.__all__
    for name in mt.__all__:
        value = getattr(mt, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    with pytest.raises(AttributeError):
        mt.no_such_name  # noqa: B018


def test_import_is_light():
    code = "import sys, mnist_toolkit as mt; mt.__all__; print(sorted(m for m in ('torch', 'onnxruntime', 'starlette', 'typer', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_mnist():
    images, labels = mt.load_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and set(np.unique(labels)) == set(range(10))
    with pytest.raises(mt.ConfigError, match="unknown split 'validation'"):
        mt.load_mnist("validation")


def test_read_takes_a_path_bytes_a_pil_image_or_an_array(pretrained, test_digits, tmp_path):
    images, labels = test_digits
    digit = 255 - images[0]  # dark ink on white paper, as photographed
    path = tmp_path / "digit.png"
    path.write_bytes(png(digit))
    readings = [pretrained.read(path), pretrained.read(str(path)), pretrained.read(path.read_bytes()),
                pretrained.read(Image.fromarray(digit)), pretrained.read(digit), pretrained.read(digit / 255.0)]
    assert {r.digit for r in readings} == {int(labels[0])}
    first = readings[0]
    assert isinstance(first, mt.Reading)
    assert first.input.shape == (28, 28) and first.input.dtype == np.uint8
    assert first.probabilities.shape == (10,) and first.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert first.confidence == pytest.approx(float(first.probabilities.max()))
    assert [t["digit"] for t in first.top_k][0] == first.digit and len(first.top_k) == 3
    assert first.box is not None and len(first.box) == 4
    assert all(np.array_equal(r.input, first.input) for r in readings[:5])


def test_read_errors_are_typed(pretrained, tmp_path):
    with pytest.raises(mt.ImageError, match="no such file"):
        pretrained.read(tmp_path / "missing.png")
    with pytest.raises(mt.ImageError, match="not an image"):
        pretrained.read(b"not an image at all")
    with pytest.raises(mt.ImageError):
        pretrained.read(np.zeros((3, 4, 5, 6)))
    with pytest.raises(mt.MnistError):
        pretrained.read(42)  # type: ignore[arg-type]


def test_read_number(pretrained, test_digits):
    images, labels = test_digits
    row = np.hstack([np.full((28, 14), 255, np.uint8)] + [np.hstack([255 - images[i], np.full((28, 14), 255, np.uint8)]) for i in range(4)])
    number = pretrained.read_number(row)
    assert isinstance(number, mt.NumberReading)
    assert number.number == "".join(str(int(d)) for d in labels[:4])
    assert len(number.digits) == 4
    assert number.confidence == pytest.approx(float(np.prod([d.confidence for d in number.digits])))


def test_predict_proba_and_evaluate_agree(pretrained, test_digits):
    images, labels = test_digits
    p = pretrained.predict_proba(images)
    assert p.shape == (300, 10) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    report = mt.evaluate(pretrained, images, labels)
    assert isinstance(report, mt.EvalReport)
    assert report.count == 300
    assert report.accuracy == pytest.approx(100.0 * float((p.argmax(axis=1) == labels).mean()))
    assert report.accuracy > 97
    assert report.confusion.sum() == 300 and len(report.per_class) == 10
    with pytest.raises(mt.ConfigError, match="go together"):
        mt.evaluate(pretrained, images)
    with pytest.raises(mt.ConfigError, match=r"expected \(N, 28, 28\) uint8"):
        pretrained.predict_proba(images.astype(np.float32))


def test_unknown_source_and_engine(tmp_path):
    with pytest.raises(mt.CheckpointError, match="no such run folder or checkpoint"):
        mt.load_model(tmp_path / "nothing-here")
    with pytest.raises(mt.ConfigError, match="unknown engine"):
        mt.load_model("pretrained", engine="tpu")


def test_train_then_load_and_read(tmp_path, test_digits):
    images, labels = test_digits
    config = mt.TrainConfig(epochs=1, max_steps=30, train_limit=2000, val_size=0)
    result = mt.train(config, runs_dir=tmp_path / "runs", onnx=False)
    assert isinstance(result, mt.TrainResult)
    assert result.run_dir.parent == tmp_path / "runs" and result.checkpoint.is_file()
    assert 0.0 < result.test_accuracy <= 100.0
    run = mt.RunFolder(result.run_dir)
    assert run.reported_checkpoint() == result.checkpoint
    assert run.test_accuracy() == pytest.approx(result.test_accuracy)
    model = mt.load_model(result.run_dir)
    assert model.engine == "torch" and model.test_accuracy == pytest.approx(result.test_accuracy)
    assert mt.evaluate(model).accuracy == pytest.approx(result.test_accuracy)  # the whole test set, as training measured it
    newest = mt.load_model(runs_dir=tmp_path / "runs")
    assert newest.path == result.checkpoint


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, test_digits):
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md has no ```python block after <!-- api-example -->"
    images, _ = test_digits
    monkeypatch.chdir(tmp_path)
    Path("digit.jpg").write_bytes(png(255 - images[0]))
    Image.fromarray(np.hstack([255 - images[i] for i in range(4)])).save("year.jpg")
    namespace: dict = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102
    assert isinstance(namespace["r"], mt.Reading) and isinstance(namespace["result"], mt.TrainResult)
