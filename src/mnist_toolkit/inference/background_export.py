"""The ONNX export after training, off the path the user waits for.

`mnist train` hands the reported checkpoint to a separate low-priority process (`start`) and exits; the
checkpoint's ONNX model appears beside it a few seconds later, checked against torch like every export.
While that process works it holds an exclusive lock on `<name>.onnx.exporting` beside the checkpoint,
and whatever loads the model on ONNX Runtime (`load_model`: `mnist predict`, `evaluate`, `serve`,
`mt.read`) first waits for it (`wait`), so a command run right after training still starts on ONNX
Runtime. The lock, not a pid, says whether the process lives: the system releases it however the
process ends, so a killed export is never waited for (a reused pid cannot fool it). A failed export
leaves `<name>.onnx.error` (one line), and one that died without a word leaves its marker behind;
`problem` turns either into the loader's note while it reads on the torch engine. The checkpoint
itself is never touched.

Run as `python -P -m mnist_toolkit.inference.background_export CHECKPOINT` (what `start` does).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes, write_json
from ..runs import RunFolder

MARKER_SUFFIX = ".exporting"  # JSON: when it was started, and the exporting process's pid once it runs
ERROR_SUFFIX = ".error"  # one line: why no ONNX model was written
CHECK_SUFFIX = ".check.npy"  # the digits the export must read as torch does
#: How long a loader waits for a running export before it reads on torch instead.
WAIT_SECONDS = 300.0
#: A marker whose process has not taken its lock yet is a process still starting, for this long.
START_SECONDS = 60.0


def marker_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + MARKER_SUFFIX)


def error_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + ERROR_SUFFIX)


def _check_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + CHECK_SUFFIX)


def start(checkpoint: Path, check_images: np.ndarray) -> Path:
    """Start exporting `checkpoint` to ONNX in a separate process; returns where its model will be.
    An export of the same checkpoint still running is waited for first (they share their files).

    Raises:
        OSError: the files could not be written or the process could not be started (nothing is
            left behind then).
    """
    checkpoint = Path(checkpoint)
    onnx = RunFolder.onnx_of(checkpoint)
    wait(onnx)
    error_of(onnx).unlink(missing_ok=True)
    try:
        write_check_digits(onnx, check_images)
        write_json(marker_of(onnx), {"pid": None, "started": time.time()})
        package_root = str(Path(__file__).resolve().parents[2])  # this very package, installed or a source checkout
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        subprocess.Popen([sys.executable, "-P", "-m", __name__, str(checkpoint)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=environment)  # fmt: skip
    except OSError:
        _clean_up(onnx)
        raise
    return onnx


def write_check_digits(onnx: Path, images: np.ndarray) -> None:
    """Leave the digits the export of `onnx` is checked on beside it, for the exporting process."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(images, dtype=np.uint8), allow_pickle=False)
    atomic_write_bytes(_check_of(onnx), buffer.getvalue())


def _locked(path: Path) -> bool:
    """Whether a process holds an exclusive lock on `path` (False when it is not there)."""
    try:
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except OSError:
        return False


def exporting(onnx: Path) -> bool:
    """Whether an export of this ONNX model is under way: its process holds the marker's lock, or
    was started less than START_SECONDS ago and has not taken it yet."""
    marker = marker_of(onnx)
    if _locked(marker):
        return True
    try:
        state = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    started = state.get("started") if isinstance(state, dict) else None
    return state.get("pid") is None and isinstance(started, (int, float)) and time.time() - started < START_SECONDS


def wait(onnx: Path | None, timeout: float = WAIT_SECONDS) -> None:
    """Return once no export of `onnx` is under way (or after `timeout` seconds)."""
    if onnx is None:
        return
    deadline = time.monotonic() + timeout
    while exporting(onnx) and time.monotonic() < deadline:
        time.sleep(0.05)


def problem(onnx: Path, checkpoint: Path | None) -> str | None:
    """Why the export after training left no model for `checkpoint`: its error (when not older than the
    checkpoint), or a marker whose process died without a word; None when neither."""
    if marker_of(onnx).exists() and not exporting(onnx):
        return "the ONNX export after training stopped before it finished (write the model with `mnist export`)"
    error = error_of(onnx)
    try:
        if checkpoint is not None and error.stat().st_mtime < Path(checkpoint).stat().st_mtime:
            return None  # about an older checkpoint
        text = error.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return f"the ONNX export after training failed: {text}" if text else None


def export(checkpoint: Path) -> None:
    """The exporting process's work: hold the marker's lock, write the ONNX model or the error file
    saying why not, then remove the marker and the check digits, whatever happened. Nothing is
    written when the run folder is gone."""
    from ..errors import MnistError

    onnx = RunFolder.onnx_of(checkpoint)
    try:
        handle = open(marker_of(onnx), "r+b")
    except OSError:
        return  # no marker (the run folder is gone): nobody is waiting for this export
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process exports it already
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.time()}).encode())
        handle.flush()
        try:
            os.nice(10)  # the user's next command comes first
            from .checkpoint import load_checkpoint
            from .export import export_model

            images = np.load(_check_of(onnx), allow_pickle=False)
            export_model(load_checkpoint(checkpoint), str(RunFolder.of_checkpoint(checkpoint).path), "onnx", onnx, images)
            error_of(onnx).unlink(missing_ok=True)
        except MnistError as exc:
            _write_error(onnx, f"no ONNX model written: {exc.message}")
        except Exception as exc:  # an exporter that cannot handle this network: the run itself stands
            _write_error(onnx, f"no ONNX model written ({type(exc).__name__}: {str(exc)[:200]})")
        finally:
            _clean_up(onnx)


def _clean_up(onnx: Path) -> None:
    _check_of(onnx).unlink(missing_ok=True)
    marker_of(onnx).unlink(missing_ok=True)


def _write_error(onnx: Path, message: str) -> None:
    if not onnx.parent.is_dir():
        return  # the run folder is gone: nobody is left to tell
    try:
        atomic_write_bytes(error_of(onnx), (" ".join(message.split()) + "\n").encode())
    except OSError:
        pass


if __name__ == "__main__":
    from ..process_exit import end_process

    export(Path(sys.argv[1]))
    end_process(0)
