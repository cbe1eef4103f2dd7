"""Stopping a run cleanly: SIGINT/SIGTERM become a stop event the Trainer checks after every step.

The Trainer then saves a checkpoint and raises `TrainingInterrupted`, which names the checkpoint that
resumes the run.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TrainingInterrupted", "stop_on_signals"]


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; `checkpoint` resumes it."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__(f"training interrupted; checkpoint saved to {checkpoint}")
        self.checkpoint = checkpoint


@contextmanager
def stop_on_signals(signals=(signal.SIGINT, signal.SIGTERM), event: threading.Event | None = None):
    """Within the block, SIGINT/SIGTERM set the yielded event instead of killing the process.

    The engine checks the event after every step, saves a checkpoint and stops. A second signal
    falls back to the previous handler (so a second Ctrl-C kills at once).

    Args:
        event: the event to set, e.g. the one a Trainer was built with (default: a new one).
    """
    event = event if event is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {}

    def handler(signum, frame):
        if event.is_set():
            prior = previous.get(signum)
            signal.signal(signum, prior if prior is not None else signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        event.set()

    for sig in signals:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield event
    finally:
        for sig, prior in previous.items():
            signal.signal(sig, prior)
