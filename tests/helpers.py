"""Plain helpers shared by the tests (no fixtures: those live in conftest.py).

Import them as `from helpers import png` (pytest puts this folder on sys.path, as it does for conftest).
"""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def png(array: np.ndarray) -> bytes:
    """`array` (H x W gray, or H x W x 3/4) encoded as PNG bytes; non-uint8 values are clipped to 0-255 first."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        array = array.clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def make_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random 28x28 uint8 images and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    return images, labels


def train_small_run(runs_dir: Path, train_limit: int, epochs: int = 1, onnx: bool = False) -> Path:
    """Train the fast preset's network on the first `train_limit` images into a run under `runs_dir`;
    with `onnx`, also write the reported checkpoint's ONNX model as `mnist train` does.

    Most tests need no training of their own: conftest's session-scoped `shared_run` is one such run."""
    from mnist_toolkit.training.config import build_train_config
    from mnist_toolkit.training.prepare import export_reported_onnx, prepare_run

    config = build_train_config({"preset": "fast", "epochs": epochs, "train_limit": train_limit, "runs_dir": str(runs_dir)})
    prepared = prepare_run(config)
    result = prepared.trainer.fit()
    if onnx:
        export_reported_onnx(prepared, result)
    return prepared.run_dir


def copy_run(run: Path, runs_dir: Path, *, onnx: bool = True, name: str | None = None) -> Path:
    """A copy of `run` as `runs_dir/<its name>` (or `runs_dir/<name>`), file times kept, so `auto` still
    finds its ONNX model fresh; without `onnx`, the copy has no ONNX model and runs on torch."""
    copy = Path(shutil.copytree(run, Path(runs_dir) / (name or run.name)))
    if not onnx:
        for model in (copy / "checkpoints").glob("*.onnx"):
            model.unlink()
    return copy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def uvicorn_server(app, log_level: str = "warning", **options):
    """`app` served as `mnist serve` serves it (its protocol and limits), on 127.0.0.1 in a thread;
    yields the port. `options` go to `serving.protocol.server_config` (e.g. log_config=None)."""
    import uvicorn

    from mnist_toolkit.serving.protocol import server_config

    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level=log_level, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def serve_app(cli, monkeypatch, runs, *args, stderr: list | None = None):
    """The uvicorn config `mnist serve` would run with these options (uvicorn is not started); what it
    wrote on stderr is appended to `stderr` when given."""
    import uvicorn

    import mnist_toolkit.cli.serve as command

    served = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: served.update(config=self.config))
    monkeypatch.setattr(uvicorn.Config, "configure_logging", lambda self: None)  # its handlers would outlive the test's stderr
    monkeypatch.setattr(command, "_log_to_stderr", lambda: None)
    result = cli("serve", "--runs-dir", runs, "--port", "8123", *args)
    assert result.exit_code == 0, result.stderr
    if stderr is not None:
        stderr.append(result.stderr)
    return served["config"]


def drawn_star(size: int = 240) -> np.ndarray:
    """A five-pointed star drawn in pen on lit, slightly noisy paper."""
    image = Image.new("L", (size, size), 235)
    angles = np.arange(11) * np.pi / 5 - np.pi / 2
    radius = np.where(np.arange(11) % 2 == 0, 0.4, 0.16) * size
    points = [(size / 2 + r * np.cos(a), size / 2 + r * np.sin(a)) for r, a in zip(radius, angles)]
    ImageDraw.Draw(image).line(points, fill=30, width=size // 40, joint="curve")
    pixels = np.asarray(image, np.float64) * np.linspace(1.0, 0.85, size)[None, :]
    return pixels + np.random.default_rng(0).normal(0, 3, pixels.shape)
