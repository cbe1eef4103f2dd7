"""The ONNX export after training, off the path the user waits for.

`mnist train` hands the reported checkpoint to a separate low-priority process (`start`) and exits; the
checkpoint's ONNX model appears beside it a few seconds later, checked against torch like every export.
While that process works, `<name>.onnx.exporting` lies beside the checkpoint, and whatever loads the
model (`load_model`: `mnist predict`, `evaluate`, `serve`, `mt.read`) first waits for it (`wait`), so a
command run right after training still starts on ONNX Runtime. A failed export leaves
`<name>.onnx.error` (one line), which the loader reports as its note while it reads on the torch engine;
the checkpoint itself is never touched.

Run as `python -m mnist_toolkit.inference.background_export CHECKPOINT` (what `start` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..files import atomic_write_bytes, write_json
from ..runs import RunFolder

MARKER_SUFFIX = ".exporting"  # JSON: the exporting process's pid (once it runs) and when it was started
ERROR_SUFFIX = ".error"  # one line: why no ONNX model was written
CHECK_SUFFIX = ".check.npy"  # the digits the export must read as torch does
#: How long a loader waits for a running export before it reads on torch instead.
WAIT_SECONDS = 300.0
#: A marker without a pid is a process still starting; after this long without one it is taken as dead.
START_SECONDS = 60.0


def marker_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + MARKER_SUFFIX)


def error_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + ERROR_SUFFIX)


def _check_of(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + CHECK_SUFFIX)


def start(checkpoint: Path, check_images: np.ndarray) -> Path:
    """Start exporting `checkpoint` to ONNX in a separate process; returns where its model will be."""
    checkpoint = Path(checkpoint)
    onnx = RunFolder.onnx_of(checkpoint)
    error_of(onnx).unlink(missing_ok=True)
    write_check_digits(onnx, check_images)
    write_json(marker_of(onnx), {"pid": None, "started": time.time()})
    subprocess.Popen([sys.executable, "-m", __name__, str(checkpoint)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    return onnx


def write_check_digits(onnx: Path, images: np.ndarray) -> None:
    """Leave the digits the export of `onnx` is checked on beside it, for the exporting process."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(images, dtype=np.uint8), allow_pickle=False)
    atomic_write_bytes(_check_of(onnx), buffer.getvalue())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process under that pid
        return True
    return True


def exporting(onnx: Path) -> bool:
    """Whether an export of this ONNX model is under way (its marker there, its process alive)."""
    try:
        marker = json.loads(marker_of(onnx).read_text())
    except (OSError, ValueError):
        return False
    pid = marker.get("pid") if isinstance(marker, dict) else None
    if isinstance(pid, int):
        return _alive(pid)
    started = marker.get("started") if isinstance(marker, dict) else None
    return isinstance(started, (int, float)) and time.time() - started < START_SECONDS


def wait(onnx: Path | None, timeout: float = WAIT_SECONDS) -> None:
    """Return once no export of `onnx` is under way (or after `timeout` seconds)."""
    if onnx is None:
        return
    deadline = time.monotonic() + timeout
    while exporting(onnx) and time.monotonic() < deadline:
        time.sleep(0.05)


def failure(onnx: Path) -> str | None:
    """Why the export after training wrote no model (its error file), or None."""
    try:
        return error_of(onnx).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def export(checkpoint: Path) -> None:
    """The exporting process's work: write the ONNX model, or the error file saying why not; then
    remove the marker and the check digits, whatever happened."""
    from ..errors import MnistError

    onnx = RunFolder.onnx_of(checkpoint)
    try:
        write_json(marker_of(onnx), {"pid": os.getpid(), "started": time.time()})
        os.nice(10)  # the user's next command comes first
        from .checkpoint import load_checkpoint
        from .export import export_model

        images = np.load(_check_of(onnx), allow_pickle=False)
        export_model(load_checkpoint(checkpoint), str(RunFolder.of_checkpoint(checkpoint).path), "onnx", onnx, images)
    except MnistError as exc:
        _write_error(onnx, f"no ONNX model written: {exc.message}")
    except Exception as exc:  # an exporter that cannot handle this network: the run itself stands
        _write_error(onnx, f"no ONNX model written ({type(exc).__name__}: {str(exc)[:200]})")
    finally:
        _check_of(onnx).unlink(missing_ok=True)
        marker_of(onnx).unlink(missing_ok=True)


def _write_error(onnx: Path, message: str) -> None:
    try:
        atomic_write_bytes(error_of(onnx), (" ".join(message.split()) + "\n").encode())
    except OSError:
        pass  # the run folder is gone: nobody is left to tell


if __name__ == "__main__":
    export(Path(sys.argv[1]))
