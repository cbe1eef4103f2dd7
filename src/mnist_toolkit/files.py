"""Writing files safely: to a temporary file beside the target, flushed, then renamed into place, so a
reader never sees half a file and a crash never leaves a corrupt one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write bytes to a temporary file beside `path`, flush it to disk, then rename it into place."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())  # temporary files are 0600; give the file the usual mode
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, document) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(document, indent=2, default=str) + "\n").encode())
    return path
