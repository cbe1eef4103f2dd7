"""Run folders: unique creation, JSON files written atomically, finding the newest run."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from .errors import CheckpointError, ConfigError


def create_run_dir(runs_dir: str | Path, label: str, label_first: bool = False) -> Path:
    """Make `runs_dir/<timestamp>_<label>` (or `<label>_<timestamp>`), unique even if started in the same second.

    `mkdir` without exist_ok is atomic, so two processes can never get the same folder.

    Raises:
        ConfigError: the runs folder cannot be created or written.
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
        raise ConfigError(
            f"cannot create a run folder in {runs_dir}: {exc.strerror or exc}",
            hint="choose a writable folder with --runs-dir, or free some disk space",
        ) from None
    raise ConfigError(f"{runs_dir}: too many runs named {stamp}_{label}")


def create_named_run_dir(path: str | Path) -> Path:
    """Make exactly `path` (a run inside a comparison or grid folder); it must not exist yet.

    Raises:
        ConfigError: it exists already, or cannot be created.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        raise ConfigError(f"{path} exists already", hint="choose another folder") from None
    except OSError as exc:
        raise ConfigError(f"cannot create the run folder {path}: {exc.strerror or exc}",
                          hint="choose a writable folder with --runs-dir, or free some disk space") from None  # fmt: skip
    return path


def environment() -> dict:
    """Versions of what the run depends on."""
    import torch
    import torchvision

    from . import __version__

    return {
        "mnist_toolkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def runs_newest_first(runs_dir: str | Path) -> list[Path]:
    """Every run folder under `runs_dir` that holds a checkpoint, the most recently written first; a
    run that disappears while being listed is left out."""
    found = []
    for last in Path(runs_dir).glob("**/checkpoints/last.pt"):
        try:
            found.append((last.stat().st_mtime, last.parent.parent))
        except OSError:
            continue
    return [run for _, run in sorted(found, key=lambda item: item[0], reverse=True)]


def newest_run(runs_dir: str | Path) -> Path:
    """The most recently started run folder that holds a checkpoint.

    Raises:
        CheckpointError: no run with a checkpoint under `runs_dir`.
    """
    runs = runs_newest_first(runs_dir)
    if not runs:
        raise CheckpointError(f"no run with a checkpoint under {runs_dir}", hint="train one with `mnist train`, or pass --run DIR")
    return runs[0]


def checkpoint_of(path: str | Path, prefer_best: bool = True) -> Path:
    """The checkpoint a run folder or a checkpoint path stands for (best.pt first when asked).

    Raises:
        CheckpointError: nothing loadable there.
    """
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        names = ("best.pt", "last.pt") if prefer_best else ("last.pt",)
        for name in names:
            candidate = path / "checkpoints" / name
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"{path}: no checkpoints/last.pt in this folder", hint="pass a run folder made by `mnist train`")
    raise CheckpointError(f"{path}: no such run folder or checkpoint")
