"""The training engine: in-memory batches, the train/evaluate loops, checkpoints and resume.

The whole data set sits in uint8 tensors on the training device; each epoch's batches are cut by
index from a permutation seeded by (seed, epoch), normalised on the fly. Progress goes to callbacks;
nothing here prints. The loop follows the design notes: train mode, data to device, clear gradients,
predict, loss, backward, step; test in eval mode without gradients.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..inference.checkpoint import save_checkpoint
from .config import TrainConfig
from ..data.source import DataSource, load_split
from .distributed import DistContext, all_gather, all_reduce_sum
from ..errors import CheckpointError, ConfigError
from ..inference.torch_model import EvalResult, evaluate, normalise
from ..models import count_parameters, create_model
from .optim import create_optimizer, create_scheduler, optimizer_info
from ..data.resources import MNIST_MEAN, MNIST_STD
from ..files import write_json
from .state import EpochRecord, RandomStreams, TrainState
from .transforms import augment_batch

__all__ = ["EpochRecord", "EvalResult", "FitResult", "StartRecord", "StepRecord", "TrainCallback", "TrainData", "Trainer",
           "TrainingInterrupted", "epoch_permutation", "evaluate", "prepare_data", "resolve_device", "stop_on_signals"]  # fmt: skip

_EPOCH_SEED_STRIDE = 1_000_003


# ----------------------------------------------------------------------------------------------- devices
_DEVICES = {
    "cpu": lambda: True,
    "cuda": lambda: torch.cuda.is_available(),
    "mps": lambda: getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
}


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an explicit device must be available.

    Raises:
        ConfigError: unknown or unavailable device.
    """
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if _DEVICES[d]()))
    if name not in _DEVICES:
        raise ConfigError(f"unknown device {name!r}: choose auto, {', '.join(_DEVICES)}")
    if not _DEVICES[name]():
        raise ConfigError(f"device {name!r} is not available on this machine", hint="use --device auto or cpu")
    return torch.device(name)


# ----------------------------------------------------------------------------------------------- data
@dataclass
class TrainData:
    """Train/validation/test splits as tensors on the device: images (N, 28, 28) uint8, labels (N,) int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: dict = field(default_factory=dict)


def prepare_data(config: TrainConfig, source: DataSource, device: torch.device) -> TrainData:
    """Load the splits once, take `train_limit` first images, hold `val_size` out (seeded), move to device.

    Raises:
        ConfigError: the validation set would leave no training images.
    """
    train, test = load_split(source, "train"), load_split(source, "test")
    images = torch.from_numpy(train.images)
    labels = torch.from_numpy(train.labels).long()
    if config.train_limit is not None:
        images, labels = images[: config.train_limit], labels[: config.train_limit]
    if config.val_size >= len(labels):
        raise ConfigError(f"--val-size {config.val_size} leaves no training images out of {len(labels)}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(config.seed))
    val_idx, train_idx = order[: config.val_size], order[config.val_size :]
    if config.val_size:
        train_idx = train_idx.sort().values  # keep the original order; epochs shuffle anyway
    else:
        train_idx = torch.arange(len(labels))
    return TrainData(
        images[train_idx].to(device), labels[train_idx].to(device),
        images[val_idx].to(device), labels[val_idx].to(device),
        torch.from_numpy(test.images).to(device), torch.from_numpy(test.labels).long().to(device),
        source.describe(),
    )  # fmt: skip


def epoch_permutation(count: int, seed: int, epoch: int) -> torch.Tensor:
    """The batch order of one epoch: depends only on (seed, epoch), so a resumed run cuts the same batches."""
    generator = torch.Generator().manual_seed(seed * _EPOCH_SEED_STRIDE + epoch)
    return torch.randperm(count, generator=generator)


# ----------------------------------------------------------------------------------------------- callbacks
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
    """

    history: list[EpochRecord]
    test_loss: float  # of the last epoch (last.pt)
    test_accuracy: float
    train_seconds: float
    images_per_second: float
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    stopped_early: bool
    interrupted: bool
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


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; `checkpoint` resumes it."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__(f"training interrupted; checkpoint saved to {checkpoint}")
        self.checkpoint = checkpoint


@contextmanager
def stop_on_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, SIGINT/SIGTERM set the yielded event instead of killing the process.

    The engine checks the event after every step, saves a checkpoint and stops. A second signal
    falls back to the previous handler (so a second Ctrl-C kills at once).
    """
    event = threading.Event()
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


# ----------------------------------------------------------------------------------------------- trainer
class Trainer:
    """Trains one model on one TrainData according to a TrainConfig, into one run folder.

    The run's position lives in `state` (a TrainState) and its random streams in `streams`; a
    checkpoint holds both with the model, optimizer, schedule and GradScaler, so that a resumed run
    continues exactly where it stopped. Continuing with other settings is `resume.py`'s business.
    """

    def __init__(self, config: TrainConfig, data: TrainData, device: torch.device, run_dir: Path,
                 callbacks: list[TrainCallback] | None = None, stop_event: threading.Event | None = None,
                 dist: DistContext | None = None) -> None:  # fmt: skip
        if config.amp and device.type != "cuda":
            raise ConfigError("--amp (mixed precision) needs a CUDA device", hint="drop --amp or use --device cuda")
        self.config = config
        self.data = data
        self.device = device
        self.run_dir = Path(run_dir)
        self.callbacks = callbacks or []
        self.stop_event = stop_event or threading.Event()
        self.dist = dist or DistContext()
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.deterministic or torch.are_deterministic_algorithms_enabled():
            torch.use_deterministic_algorithms(config.deterministic)  # importing its machinery costs seconds
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = create_model(config.arch, **config.model_args).to(device)
        self.streams = RandomStreams.seeded(config.seed, self.dist.rank, cuda=device.type == "cuda")
        self.params = count_parameters(self.model)
        self.train_model = self.model  # what the loop calls; DistributedDataParallel around it on several ranks
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.lr = optimizer_info(config.optimizer).default_lr if config.lr is None else config.lr
        self.optimizer = create_optimizer(config.optimizer, self.model.parameters(), self.lr, config.momentum,
                                          config.weight_decay, config.betas)  # fmt: skip
        self.steps_per_epoch = max(1, -(-len(data.train_y) // config.batch_size))
        self.scheduler = self.build_scheduler()
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.loss_sum_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, reduction="sum")
        self.scaler = torch.amp.GradScaler("cuda") if config.amp else None
        self.state = TrainState()
        self.checkpoint_dir = self.run_dir / "checkpoints"

    def build_scheduler(self):
        """The schedule for the configured epochs (not cut by max_steps: a resumed run continues the same schedule)."""
        total = self.steps_per_epoch * self.config.epochs
        return create_scheduler(self.config.scheduler, self.optimizer, total, self.steps_per_epoch, self.config.epochs, self.lr)

    # ------------------------------------------------------------------ position (read-only views of the state)
    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def global_step(self) -> int:
        return self.state.global_step

    @property
    def history(self) -> list[EpochRecord]:
        return self.state.history

    @property
    def best_val_acc(self) -> float | None:
        return self.state.best_val_acc

    @property
    def best_epoch(self) -> int | None:
        return self.state.best_epoch

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self, rng_states: list[dict]) -> dict:
        """Everything needed to rebuild the model and to continue training exactly."""
        return {
            "arch": self.config.arch,
            "model_args": dict(self.config.model_args),
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler else None,
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
            "config": self.config.to_dict(),
            "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
            "num_classes": 10,
            "in_channels": 1,
            **self.state.to_payload(),
            "rng_states": rng_states,  # one per rank
            "params": self.params,
        }

    def save(self, name: str = "last.pt") -> Path:
        """Write a checkpoint (collective: every rank hands in its random streams, rank 0 writes)."""
        path = self.checkpoint_dir / name
        rng_states = all_gather(self.dist, self.streams.state())
        if self.dist.is_main:
            save_checkpoint(path, self.checkpoint_payload(rng_states))
        return path

    def restore(self, payload: dict) -> None:
        """Continue from a checkpoint written by `save`, with this trainer's config and schedule.

        Raises:
            CheckpointError: the checkpoint does not match this run's model or optimizer.
        """
        try:
            self.model.load_state_dict(payload["model_state"])
            self.optimizer.load_state_dict(payload["optimizer_state"])
            if self.scheduler is not None and payload.get("scheduler_state"):
                self.scheduler.load_state_dict(payload["scheduler_state"])
            if self.scaler is not None and payload.get("scaler_state"):
                self.scaler.load_state_dict(payload["scaler_state"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot resume: the checkpoint does not fit this run ({str(exc).splitlines()[0]})") from None
        self.state = TrainState.from_payload(payload)
        states = payload.get("rng_states") or [{"cpu": payload["rng_state"], "augment": payload["augment_rng_state"]}]
        if self.dist.rank < len(states):
            self.streams.restore(states[self.dist.rank])

    # ------------------------------------------------------------------ loop
    def _emit(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, global_count: int) -> torch.Tensor:
        """Mean loss over the global batch. On several ranks each rank's share is summed and scaled so that
        DDP's gradient average equals the single-process gradient of the whole batch, even for uneven shares."""
        if not self.dist.enabled:
            return self.loss_fn(logits, y)
        return self.loss_sum_fn(logits.float(), y) * (self.dist.world_size / global_count)

    def _should_stop(self) -> bool:
        """SIGINT/SIGTERM (on any rank) or --max-steps; every rank decides the same."""
        stop = self.stop_event.is_set()
        if self.dist.enabled:
            stop = all_reduce_sum(self.dist, [1.0 if stop else 0.0])[0] > 0
            if stop:
                self.stop_event.set()
        return stop or (self.config.max_steps is not None and self.state.global_step >= self.config.max_steps)

    def _evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> EvalResult:
        """`evaluate`, sharded over the ranks and gathered when training is distributed."""
        if not self.dist.enabled:
            return evaluate(self.model, images, labels, self.config.eval_batch_size)
        rank, world = self.dist.rank, self.dist.world_size
        part = evaluate(self.model, images[rank::world], labels[rank::world], self.config.eval_batch_size)
        loss_sum, correct, total = all_reduce_sum(self.dist, [part.loss * part.total, float(part.correct), float(part.total)])
        shards = all_gather(self.dist, part.predictions)
        predictions = torch.empty(len(labels), dtype=torch.long)
        for shard_rank, shard in enumerate(shards):
            predictions[shard_rank::world] = shard
        return EvalResult(loss_sum / max(1, total), 100.0 * correct / max(1, total), int(correct), int(total), predictions)

    def train_one_epoch(self, perm: torch.Tensor, limit: int | None = None) -> tuple[float, int, int, float, bool]:
        """Run the rest of the current epoch (at most `limit` steps); returns this rank's (loss sum, correct,
        seen, seconds, cut short).

        The loss summed is plain cross-entropy whatever the label smoothing, so that the train and test
        columns measure the same thing.
        """
        cfg, model, data, state = self.config, self.model, self.data, self.state
        bs = cfg.batch_size
        perm = perm.to(self.device)
        loss_sum, correct, seen, before = state.partial_epoch if state.step_in_epoch else (0.0, 0, 0, 0.0)
        model.train()
        started = time.perf_counter()
        cut = False
        rank, world = self.dist.rank, self.dist.world_size
        end = self.steps_per_epoch if limit is None else min(self.steps_per_epoch, state.step_in_epoch + limit)
        for step in range(state.step_in_epoch, end):
            index = perm[step * bs : (step + 1) * bs]  # the global batch
            global_count = len(index)
            if world > 1:
                index = index[rank::world]  # this rank's disjoint share
            x = normalise(data.train_x[index])  # (B, 1, 28, 28)
            y = data.train_y[index]
            if cfg.augment or cfg.augment_strokes:
                x = augment_batch(x, self.streams.augment, cfg.augment, cfg.augment_strokes)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                with torch.autocast("cuda", dtype=torch.float16):
                    logits = self.train_model(x)
                    loss = self._loss(logits, y, global_count)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                logits = self.train_model(x)
                loss = self._loss(logits, y, global_count)
                loss.backward()
                self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            state.step_in_epoch = step + 1
            state.global_step += 1
            with torch.no_grad():
                batch_sum = nn.functional.cross_entropy(logits.detach().float(), y, reduction="sum").item()
                correct += (logits.argmax(dim=1) == y).sum().item()
            loss_sum += batch_sum
            seen += len(y)
            elapsed = before + time.perf_counter() - started
            self._emit("on_step", StepRecord(state.global_step, state.epoch + 1, state.step_in_epoch, self.steps_per_epoch,
                                             batch_sum / max(1, len(y)), loss_sum / max(1, seen), 100.0 * correct / max(1, seen),
                                             seen * world / max(elapsed, 1e-9), self.current_lr()))  # fmt: skip
            if self._should_stop():
                break
        cut = state.step_in_epoch < self.steps_per_epoch
        seconds = before + time.perf_counter() - started
        state.partial_epoch = (loss_sum, correct, seen, seconds) if cut else (0.0, 0, 0, 0.0)
        return loss_sum, correct, seen, seconds, cut

    def _write_metrics(self) -> None:
        if self.dist.is_main:
            write_json(self.run_dir / "metrics.json", {"history": [asdict(r) for r in self.state.history],
                                                       "best_epoch": self.state.best_epoch, "best_val_acc": self.state.best_val_acc})  # fmt: skip

    def fit(self) -> FitResult:
        """Train until the configured epochs, max steps, early stop or an interrupt.

        Raises:
            TrainingInterrupted: after SIGINT/SIGTERM, once the checkpoint is saved (before any evaluation,
                so that a scheduler's grace period is spent on saving, not on scoring).
        """
        cfg, data, state = self.config, self.data, self.state
        self._emit("on_start", StartRecord(cfg.epochs, self.steps_per_epoch, state.global_step, list(state.history)))
        train_seconds, train_images = 0.0, 0
        stopped_early = False
        last_eval: EvalResult | None = None
        while state.epoch < cfg.epochs:
            self._emit("on_epoch_start", state.epoch + 1, self.steps_per_epoch, state.step_in_epoch)
            perm = epoch_permutation(len(data.train_y), cfg.seed, state.epoch)
            loss_sum, correct, seen, seconds, cut = self.train_one_epoch(perm)
            if self.stop_event.is_set():
                checkpoint = self.save("last.pt")
                self._emit("on_interrupted", checkpoint)
                raise TrainingInterrupted(checkpoint)
            loss_sum, correct, seen = all_reduce_sum(self.dist, [loss_sum, float(correct), float(seen)])
            train_seconds += seconds
            train_images += seen
            last_eval = self._evaluate(data.test_x, data.test_y)
            val = self._evaluate(data.val_x, data.val_y) if len(data.val_y) else None
            record = EpochRecord(
                epoch=state.epoch + 1, steps=state.global_step,
                train_loss=loss_sum / max(1, seen), train_acc=100.0 * correct / max(1, seen),
                test_loss=last_eval.loss, test_acc=last_eval.accuracy,
                val_loss=val.loss if val else None, val_acc=val.accuracy if val else None,
                lr=self.current_lr(), seconds=seconds, images_per_second=seen / max(seconds, 1e-9),
                complete=not cut,
            )  # fmt: skip
            improved = False
            if cut:
                state.history.append(record)
            else:
                improved = state.finish_epoch(record)
            self._write_metrics()
            self.save("last.pt")
            if improved:
                self.save("best.pt")
            self._emit("on_epoch_end", record)
            if cfg.max_steps is not None and state.global_step >= cfg.max_steps:
                break
            if cfg.patience is not None and state.epochs_since_best >= cfg.patience:
                stopped_early = True
                break
        best = self.checkpoint_dir / "best.pt"
        best_record = state.best_record()
        result = FitResult(
            history=state.history,
            test_loss=last_eval.loss if last_eval else float("nan"),
            test_accuracy=last_eval.accuracy if last_eval else float("nan"),
            train_seconds=train_seconds,
            images_per_second=train_images / max(train_seconds, 1e-9),
            last_checkpoint=self.checkpoint_dir / "last.pt" if last_eval else None,
            best_checkpoint=best if best_record is not None and best.exists() else None,
            stopped_early=stopped_early,
            interrupted=False,
            test_predictions=last_eval.predictions if last_eval else None,
            best_epoch=state.best_epoch,
            best_val_accuracy=state.best_val_acc,
            best_test_accuracy=best_record.test_acc if best_record else None,
            best_test_loss=best_record.test_loss if best_record else None,
        )
        self._emit("on_end", result)
        return result
