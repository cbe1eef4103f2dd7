"""How training reports progress: the records the Trainer hands its callbacks, and how a fit ended.

A callback receives records (`StartRecord`, `StepRecord`, the state's `EpochRecord`, `FitResult`), never
the Trainer itself; the Trainer gets its callbacks when it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .state import EpochRecord

__all__ = ["EpochRecord", "FitResult", "StartRecord", "StepRecord", "TrainCallback"]


@dataclass(frozen=True)
class StartRecord:
    """What a callback learns when training starts (or resumes)."""

    epochs: int
    steps_per_epoch: int
    global_step: int  # 0 for a new run
    history: list[EpochRecord]  # epochs finished before this start (a resumed run)


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step: the batch's loss and the epoch's running figures."""

    global_step: int
    epoch: int  # 1-based
    step_in_epoch: int  # 1-based, out of steps_per_epoch
    steps_per_epoch: int
    loss: float  # this batch's plain cross-entropy
    running_loss: float  # over the epoch so far
    running_acc: float
    images_per_second: float
    lr: float


class TrainCallback:
    """Hooks the engine calls with records (never the engine itself); the defaults do nothing."""

    def on_start(self, start: StartRecord) -> None: ...
    def on_epoch_start(self, epoch: int, steps_in_epoch: int, start_step: int) -> None: ...
    def on_step(self, step: StepRecord) -> None: ...
    def on_epoch_end(self, record: EpochRecord) -> None: ...
    def on_end(self, result: FitResult) -> None: ...
    def on_interrupted(self, checkpoint: Path) -> None: ...


@dataclass
class FitResult:
    """How training ended and which checkpoint's test accuracy is reported.

    With a validation set the reported checkpoint is best.pt (the best validation accuracy) and the
    reported test accuracy is the one measured on those weights; otherwise last.pt and the last epoch's.
    An interrupted fit has no result: it raises `TrainingInterrupted`.
    """

    history: list[EpochRecord]
    test_loss: float  # of the last epoch (last.pt)
    test_accuracy: float
    train_seconds: float
    images_per_second: float
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    stopped_early: bool
    test_predictions: torch.Tensor | None = None  # of the last epoch's weights, on the CPU
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    best_test_accuracy: float | None = None  # measured on best.pt's weights
    best_test_loss: float | None = None

    @property
    def reported(self) -> tuple[str, Path | None, float, float]:
        """("best" or "last", checkpoint, test accuracy, test loss): the checkpoint and the accuracy that belong together."""
        if self.best_checkpoint is not None and self.best_test_accuracy is not None:
            return "best", self.best_checkpoint, self.best_test_accuracy, float(self.best_test_loss)
        return "last", self.last_checkpoint, self.test_accuracy, self.test_loss
