"""Run folders: the one owner of their layout, their unique creation, and finding the newest run.

A run folder holds `config.json` (the resolved config), `metrics.json` (the epoch history),
`checkpoints/last.pt` and `checkpoints/best.pt` with their ONNX models beside them (`best.onnx`, ...),
`eval/` (what `mnist evaluate` saved) and the TensorBoard event files. Only `RunFolder` builds these
paths; everybody else asks it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckpointError, ConfigError, OutputError


@dataclass(frozen=True)
class RunFolder:
    """A training run's folder: the paths of what it holds, and which checkpoint it reports.

    Args:
        path: the folder (it need not exist yet).
    """

    path: Path

    CONFIG = "config.json"
    METRICS = "metrics.json"
    CHECKPOINTS = "checkpoints"
    EVAL = "eval"
    LAST = "last.pt"
    BEST = "best.pt"

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunFolder:
        """The run a checkpoint belongs to (`<run>/checkpoints/x.pt`), or the folder it lies in."""
        checkpoint = Path(checkpoint)
        parent = checkpoint.parent
        return cls(parent.parent if parent.name == cls.CHECKPOINTS else parent)

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics_file(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / self.LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / self.BEST

    @property
    def eval_dir(self) -> Path:
        return self.path / self.EVAL

    def checkpoint(self, name: str) -> Path:
        """`checkpoints/<name>` (a file name such as "last.pt")."""
        return self.checkpoints_dir / name

    @staticmethod
    def onnx_of(checkpoint: Path) -> Path:
        """Where the ONNX model of a checkpoint lies: beside it, the same name with `.onnx`."""
        return Path(checkpoint).with_suffix(".onnx")

    def reported_checkpoint(self, prefer_best: bool = True) -> Path:
        """best.pt when there is one (and `prefer_best`), else last.pt.

        Raises:
            CheckpointError: the folder holds no checkpoint.
        """
        for candidate in (self.best_checkpoint, self.last_checkpoint) if prefer_best else (self.last_checkpoint,):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"{self.path}: no checkpoints/last.pt in this folder", hint="pass a run folder made by `mnist train`")

    def metrics(self) -> dict | None:
        """metrics.json (history, best epoch), or None when it is missing or unreadable."""
        try:
            document = json.loads(self.metrics_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def history(self) -> list[dict]:
        """metrics.json's epoch records (the well-formed ones); [] when there are none."""
        history = (self.metrics() or {}).get("history")
        return [r for r in history if isinstance(r, dict) and isinstance(r.get("epoch"), int)] if isinstance(history, list) else []

    def is_finished(self, epochs: int) -> bool:
        """Whether the run completed `epochs` epochs and holds last.pt."""
        history = self.history()
        return bool(history) and history[-1].get("complete", True) and history[-1]["epoch"] >= epochs and self.last_checkpoint.is_file()

    def test_accuracy(self, checkpoint: Path | None = None) -> float | None:
        """The test accuracy measured on a checkpoint of this run (default: the reported one), read from
        metrics.json without torch: best.pt's is its epoch's, last.pt's the last epoch's."""
        document = self.metrics() or {}
        best_epoch = document.get("best_epoch") if checkpoint is None or Path(checkpoint).name == self.BEST else None
        history = document.get("history")
        return test_accuracy_of(history if isinstance(history, list) else [], best_epoch)


def test_accuracy_of(history: list[dict], epoch: int | None = None) -> float | None:
    """The test accuracy measured on a checkpoint's weights, from a history (as saved in metrics.json
    and in checkpoints): epoch `epoch`'s (best.pt), else the last record's (last.pt is saved right after
    it, also when --max-steps cut that epoch short); None when there is none."""
    records = [record for record in history if isinstance(record, dict) and isinstance(record.get("test_acc"), (int, float))
               and (epoch is None or (record.get("epoch") == epoch and record.get("complete", True)))]  # fmt: skip
    return float(records[-1]["test_acc"]) if records else None


def create_run_dir(runs_dir: str | Path, label: str, label_first: bool = False) -> Path:
    """Make `runs_dir/<timestamp>_<label>` (or `<label>_<timestamp>`), unique even if started in the same second.

    `mkdir` without exist_ok is atomic, so two processes can never get the same folder.

    Raises:
        OutputError: the runs folder cannot be created or written.
    """
    runs_dir = Path(runs_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 10_000):
            suffix = "" if attempt == 1 else f"-{attempt}"
            path = runs_dir / (f"{label}_{stamp}{suffix}" if label_first else f"{stamp}_{label}{suffix}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            probe = path / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
            return path
    except OSError as exc:
        raise OutputError(
            f"cannot create a run folder in {runs_dir}: {exc.strerror or exc}",
            hint="choose a writable folder with --runs-dir, or free some disk space",
        ) from None
    raise OutputError(f"{runs_dir}: too many runs named {stamp}_{label}")


def create_named_run_dir(path: str | Path) -> Path:
    """Make exactly `path` (a run inside a comparison or grid folder); it must not exist yet.

    Raises:
        OutputError: it exists already, or cannot be created.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        raise OutputError(f"{path} exists already", hint="choose another folder") from None
    except OSError as exc:
        raise OutputError(f"cannot create the run folder {path}: {exc.strerror or exc}",
                          hint="choose a writable folder with --runs-dir, or free some disk space") from None  # fmt: skip
    return path


def environment() -> dict:
    """Versions of what the run depends on (torchvision's from its package record: importing it for
    its version cost 0.2 s of every run whose network does not use it)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from ._version import __version__

    try:
        torchvision = version("torchvision")
    except PackageNotFoundError:
        torchvision = "not installed"

    return {
        "mnist_toolkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def runs_newest_first(runs_dir: str | Path) -> list[RunFolder]:
    """Every run folder under `runs_dir` that holds a checkpoint, the most recently written first; a
    run that disappears while being listed is left out."""
    found = []
    for last in Path(runs_dir).glob(f"**/{RunFolder.CHECKPOINTS}/{RunFolder.LAST}"):
        try:
            found.append((last.stat().st_mtime, RunFolder.of_checkpoint(last)))
        except OSError:
            continue
    return [run for _, run in sorted(found, key=lambda item: item[0], reverse=True)]


def newest_run(runs_dir: str | Path) -> RunFolder:
    """The default model's run: the most recently written run folder directly under `runs_dir` (a
    `mnist train` run). The runs that `mnist compare` and `mnist experiments` make inside their own
    folders are used only when named (`--run runs/compare_.../adam_seed0`, or that folder as `--runs-dir`).

    Raises:
        CheckpointError: no such run with a checkpoint under `runs_dir`.
    """
    top = Path(runs_dir).resolve()
    runs = [run for run in runs_newest_first(runs_dir) if run.path.parent.resolve() == top]
    if not runs:
        raise CheckpointError(f"no run with a checkpoint under {runs_dir}", hint="train one with `mnist train`, or pass --run DIR")
    return runs[0]


@dataclass(frozen=True)
class RunSummary:
    """One line of `mnist runs`: what a run folder holds, read from its JSON files (no torch)."""

    name: str  # the folder's path below the runs folder
    path: Path
    updated: float  # when its last checkpoint was written (seconds since the epoch)
    arch: str | None
    optimizer: str | None
    epochs_done: int
    epochs: int | None  # configured
    checkpoint: str  # the reported one: best.pt or last.pt
    test_accuracy: float | None  # of the reported checkpoint
    default: bool  # the model `predict`, `evaluate`, `export` and `serve` use when none is named

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "updated": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.updated)),
                "arch": self.arch, "optimizer": self.optimizer, "epochs_done": self.epochs_done, "epochs": self.epochs,
                "checkpoint": self.checkpoint, "test_accuracy": self.test_accuracy, "default": self.default}  # fmt: skip


def list_runs(runs_dir: str | Path) -> list[RunSummary]:
    """Every run under `runs_dir` with a checkpoint, newest first; the default model's run is marked."""
    try:
        default: Path | None = newest_run(runs_dir).path
    except CheckpointError:
        default = None
    summaries = []
    for run in runs_newest_first(runs_dir):
        try:
            checkpoint = run.reported_checkpoint()
            updated = run.last_checkpoint.stat().st_mtime
        except (OSError, CheckpointError):  # removed or broken while being listed
            continue
        config = _config_of(run)
        history = run.history()
        summaries.append(RunSummary(
            name=run.path.relative_to(runs_dir).as_posix() if run.path.is_relative_to(runs_dir) else str(run.path),
            path=run.path, updated=updated, arch=config.get("arch"), optimizer=config.get("optimizer"),
            epochs_done=sum(1 for record in history if record.get("complete", True)), epochs=config.get("epochs"),
            checkpoint=checkpoint.name, test_accuracy=run.test_accuracy(checkpoint), default=run.path == default,
        ))  # fmt: skip
    return summaries


def _config_of(run: RunFolder) -> dict:
    """config.json's "config" object, or {} when it is missing or malformed."""
    try:
        config = json.loads(run.config_file.read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, AttributeError):
        return {}
    return config if isinstance(config, dict) else {}


def remove_run(runs_dir: str | Path, name: str | Path) -> Path:
    """Delete a run folder below `runs_dir` (by its name there, or its path), or a folder of runs (a
    `compare_...` or `experiments_...` folder); nothing else.

    Raises:
        ConfigError: not a run folder below `runs_dir` (nothing is deleted).
    """
    import shutil

    root = Path(runs_dir).resolve()
    candidate = Path(name) if Path(name).is_absolute() or Path(name).exists() else Path(runs_dir) / name
    path = candidate.resolve()
    if path == root or root not in path.parents:
        raise ConfigError(f"{name}: not a folder inside {runs_dir}", hint="pass a run's name as `mnist runs` lists it")
    run = RunFolder(path)
    if not run.checkpoints_dir.is_dir() and not run.config_file.is_file() and not runs_newest_first(path):
        raise ConfigError(f"{name}: not a run folder (no checkpoints/ and no config.json) nor a folder of runs",
                          hint="pass a run's name as `mnist runs` lists it")  # fmt: skip
    shutil.rmtree(path)
    return path


def checkpoint_of(path: str | Path, prefer_best: bool = True) -> Path:
    """The checkpoint a run folder or a checkpoint path stands for (best.pt first when asked).

    Raises:
        CheckpointError: nothing loadable there.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        return RunFolder(path).reported_checkpoint(prefer_best)
    raise CheckpointError(f"{path}: no such run folder or checkpoint")
