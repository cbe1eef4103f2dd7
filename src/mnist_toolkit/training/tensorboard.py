"""TensorBoard logging of a training run, as an engine callback.

Tags: `Loss/train_step` every step; `Loss/{train,test,val}`, `Accuracy/{train,test,val}`, `LR` and
`Epoch` every epoch; `Samples/train` (a grid of inputs) at the start; `Misclassified/test` at the end;
and the run's hyper-parameters with its reported metrics in the HPARAMS tab. Every scalar uses one
x-axis, the global optimizer step (an epoch's values at the step that ended it), so that a resumed
run's purge (`purge_step`) removes exactly what is redone and nothing is duplicated.
"""

from __future__ import annotations

import numpy as np
import torch

from ..imaging import grid_image
from .callbacks import EpochRecord, FitResult, StartRecord, StepRecord, TrainCallback

EPOCH_TAGS = {
    "Loss/train": "train_loss", "Loss/test": "test_loss", "Loss/val": "val_loss",
    "Accuracy/train": "train_acc", "Accuracy/test": "test_acc", "Accuracy/val": "val_acc", "LR": "lr", "Epoch": "epoch",
}  # fmt: skip


def _grid(images_u8: torch.Tensor, columns: int = 16) -> np.ndarray:
    """(N, 28, 28) uint8 -> one (H, W) uint8 picture, laid out as the PNG grids are."""
    return np.asarray(grid_image(images_u8.cpu().numpy(), columns=columns, scale=1))


def hparams_of(config: dict) -> dict:
    """Config values TensorBoard can show: numbers, strings and booleans; lists become strings."""
    flat = {}
    for key, value in config.items():
        if key == "model_args":
            for arg, inner in value.items():
                flat[f"model.{arg}"] = inner if isinstance(inner, (int, float, str, bool)) else str(inner)
        elif value is None:
            flat[key] = "default"
        else:
            flat[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


class TensorBoardCallback(TrainCallback):
    """Writes the run's event files into its run folder, from the start of training on.

    A resumed run's writer purges what was logged after the step it resumes from (what is redone).

    Args:
        data: the run's TrainData (a grid of training inputs, the test set's misclassified digits).
        config: the run's config as a dict, for the HPARAMS tab.
    """

    def __init__(self, log_dir, data, config: dict) -> None:
        self.log_dir = str(log_dir)
        self.writer = None  # opened by on_start: a run that never starts writes no event file
        self.data = data
        self.config = config
        self.step_losses: list[tuple[int, float]] = []  # written at the end of each epoch, off the hot loop

    def flush_steps(self) -> None:
        """Write the buffered per-step training losses."""
        for step, loss in self.step_losses:
            self.writer.add_scalar("Loss/train_step", loss, step)
        self.step_losses.clear()

    def on_start(self, start: StartRecord) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=self.log_dir, purge_step=start.global_step or None)
        if start.global_step == 0:
            self.writer.add_image("Samples/train", _grid(self.data.train_x[:64]), 0, dataformats="HW")

    def on_step(self, step: StepRecord) -> None:
        self.step_losses.append((step.global_step, step.loss))

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.flush_steps()
        for tag, attribute in EPOCH_TAGS.items():
            value = getattr(record, attribute)
            if value is not None:
                self.writer.add_scalar(tag, value, record.steps)
        self.writer.flush()

    def on_interrupted(self, checkpoint) -> None:
        self.flush_steps()
        self.writer.close()

    def on_end(self, result: FitResult) -> None:
        step = result.history[-1].steps if result.history else 0
        predictions, labels = result.test_predictions, self.data.test_y.cpu()
        if predictions is not None:
            wrong = (predictions != labels).nonzero().flatten()[:64]
            if len(wrong):
                self.writer.add_image("Misclassified/test", _grid(self.data.test_x.cpu()[wrong]), step, dataformats="HW")
                pairs = ", ".join(f"{int(labels[i])}->{int(predictions[i])}" for i in wrong.tolist())
                self.writer.add_text("Misclassified/test", f"last epoch's weights; true->predicted, row by row: {pairs}", step)
        reported, _, accuracy, loss = result.reported
        last = result.history[-1] if result.history else None
        metrics = {
            "hparam/test_accuracy": accuracy,
            "hparam/test_loss": loss,
            "hparam/train_loss": last.train_loss if last else float("nan"),
            "hparam/train_seconds": result.train_seconds,
        }
        if result.best_val_accuracy is not None:
            metrics["hparam/best_val_accuracy"] = result.best_val_accuracy
        self.writer.add_hparams({**hparams_of(self.config), "reported_checkpoint": reported}, metrics, run_name=".", global_step=step)
        self.writer.flush()
        self.writer.close()
