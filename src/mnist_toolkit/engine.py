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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import DataSource, load_split
from .distributed import DistContext, all_reduce_sum
from .errors import CheckpointError, ConfigError
from .models import count_parameters, create_model
from .optim import create_optimizer, create_scheduler, optimizer_info
from .resources import MNIST_MEAN, MNIST_STD
from .runs import write_json
from .transforms import normalise, random_affine

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


# ----------------------------------------------------------------------------------------------- evaluation
@dataclass
class EvalResult:
    loss: float  # mean cross-entropy
    accuracy: float  # correct / total x 100
    correct: int
    total: int
    predictions: torch.Tensor | None  # (N,) int64, on the CPU; None when sharded over ranks


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
             mean: float = MNIST_MEAN, std: float = MNIST_STD) -> EvalResult:  # fmt: skip
    """Score a model in eval mode without gradients, then restore its previous mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct, predictions = 0.0, 0, []
    try:
        for start in range(0, len(labels), batch_size):
            x = normalise(images[start : start + batch_size], mean, std)
            y = labels[start : start + batch_size]
            logits = model(x)
            loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum").item()
            predicted = logits.argmax(dim=1)
            correct += (predicted == y).sum().item()
            predictions.append(predicted.cpu())
    finally:
        model.train(was_training)
    total = len(labels)
    return EvalResult(
        loss_sum / max(1, total),
        100.0 * correct / max(1, total),
        correct,
        total,
        torch.cat(predictions) if predictions else torch.empty(0, dtype=torch.long),
    )


# ----------------------------------------------------------------------------------------------- callbacks
@dataclass
class EpochRecord:
    """One row of the history."""

    epoch: int  # 1-based
    steps: int  # optimizer steps taken so far, in all
    train_loss: float  # mean over the epoch's batches, as trained (dropout on)
    train_acc: float
    test_loss: float
    test_acc: float
    val_loss: float | None
    val_acc: float | None
    lr: float  # at the end of the epoch
    seconds: float  # training time of the epoch (evaluation excluded)
    images_per_second: float
    complete: bool = True  # False when the epoch was cut by --max-steps or an interrupt


class TrainCallback:
    """Hooks the engine calls; the defaults do nothing. Reporting code subclasses this."""

    def on_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, epoch: int, steps_in_epoch: int, start_step: int) -> None: ...
    def on_step(self, global_step: int, step_in_epoch: int, loss: float, running_loss: float,
                running_acc: float, images_per_second: float, lr: float) -> None: ...  # fmt: skip
    def on_epoch_end(self, record: EpochRecord) -> None: ...
    def on_end(self, result: FitResult, trainer: Trainer) -> None: ...


@dataclass
class FitResult:
    history: list[EpochRecord]
    test_loss: float
    test_accuracy: float
    train_seconds: float
    images_per_second: float
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    stopped_early: bool
    interrupted: bool
    test_predictions: torch.Tensor | None = None


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; `checkpoint` resumes it."""

    def __init__(self, checkpoint: Path, result: FitResult | None = None) -> None:
        super().__init__(f"training interrupted; checkpoint saved to {checkpoint}")
        self.checkpoint = checkpoint
        self.result = result


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
    """Trains one model on one TrainData according to a TrainConfig, into one run folder."""

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
        torch.manual_seed(config.seed)
        self.model = create_model(config.arch, **config.model_args).to(device)
        self.params = count_parameters(self.model)
        self.train_model = self.model  # what the loop calls; DistributedDataParallel around it on several ranks
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.lr = optimizer_info(config.optimizer).default_lr if config.lr is None else config.lr
        self.optimizer = create_optimizer(config.optimizer, self.model.parameters(), self.lr, config.momentum,
                                          config.weight_decay, config.betas)  # fmt: skip
        self.steps_per_epoch = max(1, -(-len(data.train_y) // config.batch_size))
        total = self.steps_per_epoch * config.epochs  # not cut by max_steps: a resumed run continues the same schedule
        self.scheduler = create_scheduler(config.scheduler, self.optimizer, total, self.steps_per_epoch, config.epochs, self.lr)
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.loss_sum_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, reduction="sum")
        self.scaler = torch.amp.GradScaler("cuda") if config.amp else None
        self.augment_generator = torch.Generator().manual_seed(config.seed + 1)
        # position
        self.epoch = 0  # 0-based index of the epoch in progress
        self.step_in_epoch = 0
        self.global_step = 0
        self.history: list[EpochRecord] = []
        self.best_val_acc: float | None = None
        self.best_epoch: int | None = None
        self.epochs_since_best = 0
        self.partial_epoch: tuple[float, int, int, float] = (0.0, 0, 0, 0.0)  # sums of a cut epoch, for resume
        self.checkpoint_dir = self.run_dir / "checkpoints"

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_payload(self) -> dict:
        """Everything needed to rebuild the model and to continue training exactly."""
        return {
            "arch": self.config.arch,
            "model_args": dict(self.config.model_args),
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler else None,
            "config": self.config.to_dict(),
            "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
            "num_classes": 10,
            "in_channels": 1,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "rng_state": torch.get_rng_state(),
            "augment_rng_state": self.augment_generator.get_state(),
            "history": [asdict(r) for r in self.history],
            "best_val_acc": self.best_val_acc,
            "best_epoch": self.best_epoch,
            "epochs_since_best": self.epochs_since_best,
            "partial_epoch": list(self.partial_epoch),
            "params": self.params,
        }

    def save(self, name: str = "last.pt") -> Path:
        """Write a checkpoint (rank 0 only; other ranks hold the same weights)."""
        path = self.checkpoint_dir / name
        if self.dist.is_main:
            save_checkpoint(path, self.checkpoint_payload())
        return path

    def restore(self, payload: dict) -> None:
        """Continue from a checkpoint written by `save`.

        Raises:
            CheckpointError: the checkpoint does not match this run's model or optimizer.
        """
        try:
            self.model.load_state_dict(payload["model_state"])
            self.optimizer.load_state_dict(payload["optimizer_state"])
            if self.scheduler is not None and payload.get("scheduler_state"):
                self.scheduler.load_state_dict(payload["scheduler_state"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot resume: the checkpoint does not fit this run ({str(exc).splitlines()[0]})") from None
        self.epoch = int(payload["epoch"])
        self.step_in_epoch = int(payload["step_in_epoch"])
        self.global_step = int(payload["global_step"])
        torch.set_rng_state(payload["rng_state"])
        self.augment_generator.set_state(payload["augment_rng_state"])
        self.history = [EpochRecord(**r) for r in payload.get("history", []) if r.get("complete", True)]
        self.best_val_acc = payload.get("best_val_acc")
        self.best_epoch = payload.get("best_epoch")
        self.epochs_since_best = int(payload.get("epochs_since_best", 0))
        loss_sum, correct, seen, seconds = payload.get("partial_epoch", (0.0, 0, 0, 0.0))
        self.partial_epoch = (float(loss_sum), int(correct), int(seen), float(seconds))

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
        return stop or (self.config.max_steps is not None and self.global_step >= self.config.max_steps)

    def _evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> EvalResult:
        """`evaluate`, sharded over the ranks and all-reduced when training is distributed."""
        if not self.dist.enabled:
            return evaluate(self.model, images, labels, self.config.eval_batch_size)
        rank, world = self.dist.rank, self.dist.world_size
        part = evaluate(self.model, images[rank::world], labels[rank::world], self.config.eval_batch_size)
        loss_sum, correct, total = all_reduce_sum(self.dist, [part.loss * part.total, float(part.correct), float(part.total)])
        return EvalResult(loss_sum / max(1, total), 100.0 * correct / max(1, total), int(correct), int(total), None)

    def _train_steps(self, perm: torch.Tensor) -> tuple[float, int, int, float, bool]:
        """Run the rest of the current epoch; returns (loss sum, correct, seen, seconds, cut short)."""
        cfg, model, data = self.config, self.model, self.data
        bs = cfg.batch_size
        perm = perm.to(self.device)
        loss_sum, correct, seen, before = self.partial_epoch if self.step_in_epoch else (0.0, 0, 0, 0.0)
        model.train()
        started = time.perf_counter()
        cut = False
        rank, world = self.dist.rank, self.dist.world_size
        for step in range(self.step_in_epoch, self.steps_per_epoch):
            index = perm[step * bs : (step + 1) * bs]  # the global batch
            global_count = len(index)
            if world > 1:
                index = index[rank::world]  # this rank's disjoint share
            x = normalise(data.train_x[index])  # (B, 1, 28, 28)
            y = data.train_y[index]
            if cfg.augment:
                x = random_affine(x, self.augment_generator)
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
            self.step_in_epoch = step + 1
            self.global_step += 1
            batch_loss = loss.item() * (global_count / (len(y) * world) if world > 1 and len(y) else 1.0)
            loss_sum += batch_loss * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
            elapsed = before + time.perf_counter() - started
            self._emit("on_step", self.global_step, self.step_in_epoch, batch_loss, loss_sum / max(1, seen),
                       100.0 * correct / max(1, seen), seen * world / max(elapsed, 1e-9), self.current_lr())  # fmt: skip
            if self._should_stop():
                cut = self.step_in_epoch < self.steps_per_epoch
                break
        seconds = before + time.perf_counter() - started
        self.partial_epoch = (loss_sum, correct, seen, seconds) if cut else (0.0, 0, 0, 0.0)
        return loss_sum, correct, seen, seconds, cut

    def fit(self) -> FitResult:
        """Train until the configured epochs, max steps, early stop or an interrupt.

        Raises:
            TrainingInterrupted: after SIGINT/SIGTERM, once the checkpoint is saved.
        """
        cfg, data = self.config, self.data
        self._emit("on_start", self)
        train_seconds, train_images = 0.0, 0
        stopped_early = interrupted = False
        last_eval: EvalResult | None = None
        while self.epoch < cfg.epochs:
            self._emit("on_epoch_start", self.epoch + 1, self.steps_per_epoch, self.step_in_epoch)
            perm = epoch_permutation(len(data.train_y), cfg.seed, self.epoch)
            loss_sum, correct, seen, seconds, cut = self._train_steps(perm)
            loss_sum, correct, seen = all_reduce_sum(self.dist, [loss_sum, float(correct), float(seen)])
            train_seconds += seconds
            train_images += seen
            interrupted = self.stop_event.is_set()
            last_eval = self._evaluate(data.test_x, data.test_y)
            val = self._evaluate(data.val_x, data.val_y) if len(data.val_y) else None
            record = EpochRecord(
                epoch=self.epoch + 1, steps=self.global_step,
                train_loss=loss_sum / max(1, seen), train_acc=100.0 * correct / max(1, seen),
                test_loss=last_eval.loss, test_acc=last_eval.accuracy,
                val_loss=val.loss if val else None, val_acc=val.accuracy if val else None,
                lr=self.current_lr(), seconds=seconds, images_per_second=seen / max(seconds, 1e-9),
                complete=not cut,
            )  # fmt: skip
            if not cut:
                self.epoch += 1
                self.step_in_epoch = 0
            improved = False
            if val is not None and not cut:
                if self.best_val_acc is None or val.accuracy > self.best_val_acc:
                    self.best_val_acc, self.best_epoch, self.epochs_since_best = val.accuracy, record.epoch, 0
                    improved = True
                else:
                    self.epochs_since_best += 1
            self.history.append(record)
            if self.dist.is_main:
                write_json(self.run_dir / "metrics.json", {"history": [asdict(r) for r in self.history],
                                                           "best_epoch": self.best_epoch, "best_val_acc": self.best_val_acc})  # fmt: skip
            self.save("last.pt")
            if improved:
                self.save("best.pt")
            self._emit("on_epoch_end", record)
            if interrupted:
                break
            if cfg.max_steps is not None and self.global_step >= cfg.max_steps:
                break
            if cfg.patience is not None and self.epochs_since_best >= cfg.patience:
                stopped_early = True
                break
        best = self.checkpoint_dir / "best.pt"
        result = FitResult(
            history=self.history,
            test_loss=last_eval.loss if last_eval else float("nan"),
            test_accuracy=last_eval.accuracy if last_eval else float("nan"),
            train_seconds=train_seconds,
            images_per_second=train_images / max(train_seconds, 1e-9),
            last_checkpoint=self.checkpoint_dir / "last.pt" if last_eval else None,
            best_checkpoint=best if best.exists() else None,
            stopped_early=stopped_early,
            interrupted=interrupted,
            test_predictions=last_eval.predictions if last_eval else None,
        )
        self._emit("on_end", result, self)
        if interrupted:
            raise TrainingInterrupted(self.checkpoint_dir / "last.pt", result)
        return result


def resume_config(checkpoint_path: Path, overrides: dict) -> tuple[TrainConfig, dict]:
    """The saved config of a checkpoint with a few options the user may change on resume.

    Only `epochs`, `max_steps`, `threads`, `device` and `patience` may change; the others are the
    run's own, so that a resumed run continues the same training.
    """
    payload = load_checkpoint(checkpoint_path)
    config = TrainConfig.from_dict(payload["config"])
    allowed = {k: v for k, v in overrides.items() if k in ("epochs", "max_steps", "threads", "device", "patience")}
    config = replace(config, max_steps=None, **{k: v for k, v in allowed.items() if v is not None})
    return config, payload
