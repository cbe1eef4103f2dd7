"""Shared fixtures: tiny IDX files written by the tests themselves, a CLI runner, the MNIST test set and
one small trained run that every test needing a model shares. Plain helpers are in helpers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_toolkit.data.idx import write_idx

from helpers import make_digits, train_small_run  # noqa: F401  (train_small_run re-exported for `from conftest import`)

#: The shared run: enough images and epochs for every assertion made on it (over 95% test accuracy,
#: drawn and photographed digits read right), still a few seconds of training.
SHARED_RUN_IMAGES, SHARED_RUN_EPOCHS = 6000, 2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: trains a model of its own for real (seconds, minutes on a busy machine); CI runs them, "
        "`-m 'not slow'` leaves them out (the session's shared run is still trained once if a test needs it)",
    )


@pytest.fixture(scope="session", autouse=True)
def _no_onnx_after_training():
    """Writing the ONNX model after every training run costs seconds (the exporter traces the network);
    tests that check it pass --onnx or call the export themselves. Set for the session only, unless the
    environment already chose: importing this file changes nothing."""
    with pytest.MonkeyPatch.context() as patch:
        if "MNIST_TRAIN_ONNX" not in os.environ:
            patch.setenv("MNIST_TRAIN_ONNX", "0")
        yield


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


@pytest.fixture(scope="session")
def mnist_test():
    """The MNIST test split (10,000 digits) from the embedded copy; read it, never write into its arrays."""
    from mnist_toolkit.data.source import load_split, resolve_source

    return load_split(resolve_source(None), "test")


def _fingerprint(folder: Path) -> dict[str, tuple[int, int] | None]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None for p in folder.rglob("*")}


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory: pytest.TempPathFactory):
    """A runs folder holding exactly one run, trained once per session and shared by every module that
    needs a model: the fast preset's network, SHARED_RUN_EPOCHS epochs on the first SHARED_RUN_IMAGES
    training images, with last.pt and its ONNX model last.onnx (so `auto` runs it on ONNX Runtime).

    Read-only: a test that writes into a run (evaluate's reports, exports beside the checkpoint, touched
    or damaged checkpoints) works on `helpers.copy_run(shared_run, tmp_path)`. The session fails at the
    end if any file in here was added, removed or rewritten."""
    runs = tmp_path_factory.mktemp("shared-runs")
    train_small_run(runs, SHARED_RUN_IMAGES, epochs=SHARED_RUN_EPOCHS, onnx=True)
    before = _fingerprint(runs)
    yield runs
    after = _fingerprint(runs)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name, 0) != after.get(name, 0))
    assert not changed, f"a test altered the shared run (copy it with helpers.copy_run first): {changed}"


@pytest.fixture(scope="session")
def shared_run(shared_runs: Path) -> Path:
    """The run folder inside `shared_runs` (read-only: see there)."""
    (run,) = [p for p in shared_runs.iterdir() if p.is_dir()]
    return run
