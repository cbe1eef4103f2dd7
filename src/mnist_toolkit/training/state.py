"""Where a training run stands and the random streams it draws from: what a checkpoint needs to go on exactly.

`TrainState` is the position (epoch, step), the history of epoch records, the best-so-far on the
validation set and the sums of an epoch cut short. `RandomStreams` are the generators a rank draws
dropout masks and augmentations from: seeded from (seed, rank), so the ranks of a data-parallel run
draw differently and every run is reproducible; their states travel in the checkpoint, one per rank,
with the CUDA generators' when training on CUDA.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch


@dataclass
class EpochRecord:
    """One row of the history."""

    epoch: int  # 1-based
    steps: int  # optimizer steps taken so far, in all
    train_loss: float  # plain cross-entropy over the epoch's batches, as trained (dropout on, no label smoothing)
    train_acc: float
    test_loss: float
    test_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float  # at the end of the epoch
    seconds: float  # training time of the epoch (evaluation excluded)
    images_per_second: float
    complete: bool = True  # False when the epoch was cut by --max-steps


@dataclass
class TrainState:
    """The position of a run and what it has learnt about itself so far."""

    epoch: int = 0  # 0-based index of the epoch in progress
    step_in_epoch: int = 0
    global_step: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_val_acc: float | None = None
    best_epoch: int | None = None  # 1-based epoch whose weights are in best.pt
    epochs_since_best: int = 0
    partial_epoch: tuple[float, int, int, float] = (0.0, 0, 0, 0.0)  # loss sum, correct, seen, seconds of a cut epoch
    #: The temperature fitted on the validation split for the current weights (inference.calibration's
    #: `Calibration.to_json`); None without a validation split, or when the weights moved since.
    calibration: dict | None = None

    def to_payload(self) -> dict:
        return {
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "history": [asdict(r) for r in self.history],
            "best_val_acc": self.best_val_acc,
            "best_epoch": self.best_epoch,
            "epochs_since_best": self.epochs_since_best,
            "partial_epoch": list(self.partial_epoch),
            "calibration": self.calibration,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> TrainState:
        """The state saved by `to_payload` (records of epochs cut short are left out: they are redone)."""
        loss_sum, correct, seen, seconds = payload.get("partial_epoch", (0.0, 0, 0, 0.0))
        return cls(
            epoch=int(payload["epoch"]),
            step_in_epoch=int(payload["step_in_epoch"]),
            global_step=int(payload["global_step"]),
            history=[EpochRecord(**r) for r in payload.get("history", []) if r.get("complete", True)],
            best_val_acc=payload.get("best_val_acc"),
            best_epoch=payload.get("best_epoch"),
            epochs_since_best=int(payload.get("epochs_since_best", 0)),
            partial_epoch=(float(loss_sum), int(correct), int(seen), float(seconds)),
            calibration=payload.get("calibration"),
        )

    def finish_epoch(self, record: EpochRecord) -> bool:
        """Add a finished epoch's record; True when its validation accuracy is the best so far."""
        self.history.append(record)
        self.epoch += 1
        self.step_in_epoch = 0
        self.partial_epoch = (0.0, 0, 0, 0.0)
        if record.val_acc is None:
            return False
        if self.best_val_acc is None or record.val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch, self.epochs_since_best = record.val_acc, record.epoch, 0
            return True
        self.epochs_since_best += 1
        return False

    def best_record(self) -> EpochRecord | None:
        """The record of the epoch whose weights are in best.pt."""
        return next((r for r in self.history if r.epoch == self.best_epoch), None)


def stream_seed(seed: int, rank: int) -> int:
    """The seed of a rank's random streams: the run's seed on rank 0 (a single process), a distinct one per other rank."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


@dataclass
class RandomStreams:
    """The generators one rank draws from: torch's global ones (dropout; CUDA's on CUDA) and augmentation's own."""

    augment: torch.Generator
    cuda: bool

    @classmethod
    def seeded(cls, seed: int, rank: int, cuda: bool) -> RandomStreams:
        """Seed this rank's streams; call after the model is built (its initial weights come from `seed` on every rank)."""
        own = stream_seed(seed, rank)
        if rank:
            torch.manual_seed(own)
        return cls(torch.Generator().manual_seed(own + 1), cuda)

    def state(self) -> dict:
        return {
            "cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if self.cuda else None,
            "augment": self.augment.get_state(),
        }

    def restore(self, state: dict) -> None:
        torch.set_rng_state(state["cpu"])
        self.augment.set_state(state["augment"])
        cuda_states = state.get("cuda")
        if self.cuda and cuda_states is not None and len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
