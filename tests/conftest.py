"""Shared fixtures: tiny IDX files written by the tests themselves, and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_toolkit.data.idx import write_idx


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random 28x28 uint8 images and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    return images, labels


@pytest.fixture
def digit_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A pair of tiny images/labels IDX files (16 digits, gzip images, raw labels)."""
    images, labels = make_digits(16)
    return (
        write_idx(tmp_path / "tiny-images-idx3-ubyte.gz", images),
        write_idx(tmp_path / "tiny-labels-idx1-ubyte", labels),
    )


@pytest.fixture
def cli():
    """Run the `mnist` CLI in-process; returns the Typer runner result (stdout and stderr separate)."""
    from typer.testing import CliRunner

    from mnist_toolkit.cli import app

    runner = CliRunner()

    def invoke(*args: str, **kwargs):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, **kwargs)

    return invoke


# Writing the ONNX model after every training run costs seconds (the exporter traces the network);
# tests that check it pass --onnx or call the export themselves.
import os  # noqa: E402

os.environ.setdefault("MNIST_TRAIN_ONNX", "0")


def train_small_run(runs_dir: Path, train_limit: int, epochs: int = 1, onnx: bool = False) -> Path:
    """Train the fast preset's network on the first `train_limit` images into a run under `runs_dir`;
    with `onnx`, also write the reported checkpoint's ONNX model as `mnist train` does."""
    from mnist_toolkit.training.config import build_train_config
    from mnist_toolkit.training.prepare import export_reported_onnx, prepare_run

    config = build_train_config({"preset": "fast", "epochs": epochs, "train_limit": train_limit, "runs_dir": str(runs_dir)})
    prepared = prepare_run(config)
    result = prepared.trainer.fit()
    if onnx:
        export_reported_onnx(prepared, result)
    return prepared.run_dir
