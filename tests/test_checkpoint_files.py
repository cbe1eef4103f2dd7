"""Any file that is not a checkpoint is refused with a CheckpointError (one line in the CLI), never a
traceback: random bytes, every truncation of a real checkpoint, and files of other kinds."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import png
from mnist_toolkit.errors import CheckpointError
from mnist_toolkit.inference.checkpoint import load_checkpoint, save_checkpoint

PRETRAINED = Path(__file__).resolve().parents[1] / "src/mnist_toolkit/pretrained/robust.pt"


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> bytes:
    """A real, small checkpoint's bytes (a tiny model's weights)."""
    import torch

    from mnist_toolkit.models import create_model

    model = create_model("lenet5")
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    save_checkpoint(path, {"arch": "lenet5", "model_args": {}, "model_state": model.state_dict(), "config": {},
                           "normalization": {"mean": 0.1307, "std": 0.3081}, "extra": torch.zeros(3)})  # fmt: skip
    return path.read_bytes()


def _refused(tmp_path: Path, data: bytes, name: str = "x.pt") -> CheckpointError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert str(path) in caught.value.message and "\n" not in caught.value.message
    return caught.value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_refused(tmp_path, data):
    _refused(tmp_path, data)


def test_every_truncation_of_a_real_checkpoint_is_refused(tmp_path, small_checkpoint):
    assert load_checkpoint(_write(tmp_path, small_checkpoint))["arch"] == "lenet5"
    cuts = sorted(set(np.linspace(0, len(small_checkpoint) - 1, 120).astype(int)) | {1, 2, 3, 10, 100})
    for cut in cuts:
        _refused(tmp_path, small_checkpoint[:cut])


def test_flipped_bytes_in_a_real_checkpoint_never_escape_as_other_errors(tmp_path, small_checkpoint):
    rng = np.random.default_rng(0)
    for _ in range(60):
        data = bytearray(small_checkpoint)
        for position in rng.integers(0, len(data), size=8):
            data[position] ^= int(rng.integers(1, 256))
        path = _write(tmp_path, bytes(data))
        try:
            load_checkpoint(path)  # a flip inside tensor data still loads: that is fine
        except CheckpointError:
            pass


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


FOREIGN = {
    "notes.txt": b"my notes about the model\nepochs: 10\n",
    "tiny.pt": b"abc",
    "empty.pt": b"",
    "image.png": png(np.zeros((28, 28), np.uint8)),
    "data.json": json.dumps({"format": "mnist-toolkit/1"}).encode(),
    "archive.zip": _zip({"a.txt": b"hello"}),
    "fake-torch.zip": _zip({"archive/data.pkl": b"\x80\x02}q\x00.", "archive/version": b"3\n"}),
    "idx.gz": gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02ab"),
    "pickle.pt": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",  # pickle of the int 1
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_foreign_files_are_refused(tmp_path, name):
    _refused(tmp_path, FOREIGN[name], name)


def test_a_plain_tensor_file_is_not_a_checkpoint(tmp_path):
    import torch

    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="not an mnist-toolkit checkpoint"):
        load_checkpoint(path)


def test_the_pretrained_weights_load():
    assert load_checkpoint(PRETRAINED)["arch"]


@pytest.mark.parametrize("name", ["notes.txt", "tiny.pt", "archive.zip"])
@pytest.mark.parametrize("command", ["evaluate", "predict", "export"])
def test_the_cli_refuses_in_one_line(cli, tmp_path, name, command):
    path = tmp_path / name
    path.write_bytes(FOREIGN[name])
    image = tmp_path / "digit.png"
    image.write_bytes(png(np.zeros((28, 28), np.uint8)))
    args = {"evaluate": ["evaluate", "--checkpoint", path, "--engine", "torch"],
            "predict": ["predict", "--checkpoint", path, "--engine", "torch", image],
            "export": ["export", "--checkpoint", path, "--out", tmp_path / "out.onnx"]}[command]  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: ") and "unexpected" not in lines[0], result.stderr


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "real.pt"
    path.write_bytes(data)
    return path
