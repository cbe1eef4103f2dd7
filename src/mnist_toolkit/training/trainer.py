"""The Trainer: one model trained on one TrainData into one run folder, and its train/evaluate loop.

The loop follows the design notes: train mode, data to device, clear gradients, predict, loss,
backward, step; test in eval mode without gradients. A Trainer is complete when built: its callbacks,
stop event, initial weights (--init-from) or the checkpoint it resumes are constructor inputs, and
nothing outside changes it afterwards. Progress goes to the callbacks; nothing here prints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.resources import MNIST_MEAN, MNIST_STD
from ..errors import CheckpointError, ConfigError
from ..files import write_json
from ..inference.checkpoint import save_checkpoint
from ..inference.torch_model import EvalResult, evaluate, normalise
from ..models import count_parameters, create_model
from ..runs import RunFolder
from .callbacks import FitResult, StartRecord, StepRecord, TrainCallback
from .config import TrainConfig
from .devices import amp_for, channels_last_for
from .distributed import DistContext, all_gather, all_reduce_sum
from .optim import create_optimizer, create_scheduler, optimizer_info
from .resume import InitialWeights, ScheduleChange, rebuilt_schedule
from .signals import TrainingInterrupted
from .split import TrainData, epoch_permutation
from .state import EpochRecord, RandomStreams, TrainState
from .transforms import augment_batch

__all__ = ["Trainer", "check_setup"]


def check_setup(config: TrainConfig, device: torch.device) -> None:
    """Check what a Trainer for `config` on `device` would refuse, without building one: --amp where there is no mixed precision,
    and a network that cannot be built (built here on the meta device: no memory used, no weights drawn).

    Raises:
        ConfigError: --amp where there is no mixed precision, or network options that do not fit together.
        UnknownName: an unknown architecture.
    """
    amp_for(config, device)
    with torch.device("meta"):
        create_model(config.arch, **config.model_args)


class Trainer:
    """Trains one model on one TrainData according to a TrainConfig, into one run folder.

    The run's position lives in `state` (a TrainState) and its random streams in `streams`; a
    checkpoint holds both with the model, optimizer, schedule and GradScaler, so that a resumed run
    continues exactly where it stopped.

    Args:
        callbacks: told of every start, step, epoch, end and interrupt.
        stop_event: once set (SIGINT/SIGTERM, see `signals.py`), the loop saves last.pt and raises
            TrainingInterrupted after the current step.
        dist: this process's place in a data-parallel group (default: a single process).
        initial_weights: the network's starting weights for a new run (--init-from).
        resume_from: a checkpoint payload written by `save`: the trainer continues that run. When the
            config's epochs differ from the checkpoint's, the schedule is rebuilt for the new length
            and advanced to the step reached (`schedule_change` says how; see resume.py).

    Raises:
        ConfigError: --amp where there is no mixed precision, both `initial_weights` and `resume_from`, an unknown name.
        CheckpointError: `initial_weights` or `resume_from` do not fit this run's model or optimizer.
    """

    def __init__(self, config: TrainConfig, data: TrainData, device: torch.device, run_dir: Path,
                 callbacks: Sequence[TrainCallback] = (), stop_event: threading.Event | None = None,
                 dist: DistContext | None = None, *, initial_weights: InitialWeights | None = None,
                 resume_from: dict | None = None) -> None:  # fmt: skip
        self.amp = amp_for(config, device)  # float16 on CUDA (with a GradScaler), bfloat16 on a CPU, or None
        if initial_weights is not None and resume_from is not None:
            raise ConfigError("--resume and --init-from exclude each other")
        self.config = config
        self.data = data
        self.device = device
        self.run_dir = Path(run_dir)
        self.callbacks = tuple(callbacks)
        self.stop_event = stop_event or threading.Event()
        self.dist = dist or DistContext()
        if config.threads:
            torch.set_num_threads(config.threads)
        if config.deterministic or torch.are_deterministic_algorithms_enabled():
            torch.use_deterministic_algorithms(config.deterministic)  # importing its machinery costs seconds
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = create_model(config.arch, **config.model_args).to(device)
        self.channels_last = channels_last_for(config, self.amp)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
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
        self.scheduler = self._build_scheduler()
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.loss_sum_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, reduction="sum")
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None
        self.state = TrainState()
        self.folder = RunFolder(self.run_dir)
        #: how a resumed run's schedule was rebuilt for changed epochs; None: it continues as saved (or a new run)
        self.schedule_change = self._restore(resume_from) if resume_from is not None else None
        if initial_weights is not None:
            initial_weights.load_into(self.model)

    def _build_scheduler(self):
        """The schedule for the configured epochs (not cut by max_steps: a resumed run continues the same schedule)."""
        total = self.steps_per_epoch * self.config.epochs
        return create_scheduler(self.config.scheduler, self.optimizer, total, self.steps_per_epoch, self.config.epochs, self.lr)

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

    def save(self, name: str = RunFolder.LAST) -> Path:
        """Write a checkpoint (collective: every rank hands in its random streams, rank 0 writes)."""
        path = self.folder.checkpoint(name)
        rng_states = all_gather(self.dist, self.streams.state())
        if self.dist.is_main:
            save_checkpoint(path, self.checkpoint_payload(rng_states))
        return path

    def _restore(self, payload: dict) -> ScheduleChange | None:
        """Continue from a checkpoint written by `save`, with this trainer's config (part of construction).

        Returns how the schedule was rebuilt when the epochs changed, or None when it continues as saved.

        Raises:
            CheckpointError: the checkpoint does not match this run's model or optimizer.
        """
        epochs_before = int(payload["config"]["epochs"])
        rebuild = self.scheduler is not None and epochs_before != self.config.epochs
        try:
            self.model.load_state_dict(payload["model_state"])
            self.optimizer.load_state_dict(payload["optimizer_state"])
            if self.scheduler is not None and not rebuild and payload.get("scheduler_state"):
                self.scheduler.load_state_dict(payload["scheduler_state"])
            if self.scaler is not None and payload.get("scaler_state"):
                self.scaler.load_state_dict(payload["scaler_state"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot resume: the checkpoint does not fit this run ({str(exc).splitlines()[0]})") from None
        self.state = TrainState.from_payload(payload)
        states = payload.get("rng_states") or [{"cpu": payload["rng_state"], "augment": payload["augment_rng_state"]}]
        if self.dist.rank < len(states):
            self.streams.restore(states[self.dist.rank])
        if not rebuild:
            return None
        lr_before = self.current_lr()
        self.scheduler = rebuilt_schedule(self.optimizer, self._build_scheduler, self.state.global_step)
        return ScheduleChange(self.config.scheduler, epochs_before, self.config.epochs, self.state.global_step, lr_before, self.current_lr())

    # ------------------------------------------------------------------ loop
    def _emit(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _precision(self):
        """The context of the forward pass and the loss: autocast under --amp (float16 on CUDA, bfloat16 on
        the CPU), full precision otherwise."""
        return torch.autocast(self.device.type, dtype=self.amp) if self.amp is not None else nullcontext()

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, global_count: int) -> torch.Tensor:
        """Mean loss over the global batch. On several ranks each rank's share is summed and scaled so that
        DDP's gradient average equals the single-process gradient of the whole batch, even for uneven shares."""
        if not self.dist.enabled:
            return self.loss_fn(logits, y)
        return self.loss_sum_fn(logits.float(), y) * (self.dist.world_size / global_count)

    def _backward_and_step(self, loss: torch.Tensor) -> None:
        """Backpropagate and step the optimizer, through the GradScaler under --amp."""
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

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
        shards = all_gather(self.dist, (part.predictions, part.logits))
        predictions = torch.empty(len(labels), dtype=torch.long)
        logits = np.empty((len(labels), 10), dtype=np.float32)
        for shard_rank, (shard, shard_logits) in enumerate(shards):
            predictions[shard_rank::world] = shard
            logits[shard_rank::world] = shard_logits
        return EvalResult(loss_sum / max(1, total), 100.0 * correct / max(1, total), int(correct), int(total), predictions, logits)

    def _calibrate(self, val: EvalResult | None) -> dict | None:
        """The temperature of the current weights, fitted on the validation split (never the test set);
        None without one."""
        if val is None or val.logits is None:
            return None
        from ..inference.calibration import calibrate

        labels = self.data.val_y.cpu().numpy()
        return calibrate(val.logits, labels, f"validation split ({len(labels):,} images)").to_json()

    def train_one_epoch(self, perm: torch.Tensor, limit: int | None = None) -> tuple[float, int, int, float, bool]:
        """Run the rest of the current epoch (at most `limit` steps); returns this rank's (loss sum, correct,
        seen, seconds, cut short).

        The loss summed is plain cross-entropy whatever the label smoothing, so that the train and test
        columns measure the same thing.
        """
        cfg, data, state = self.config, self.data, self.state
        bs = cfg.batch_size
        perm = perm.to(self.device)
        loss_sum, correct, seen, before = state.partial_epoch if state.step_in_epoch else (0.0, 0, 0, 0.0)
        self.model.train()
        started = time.perf_counter()
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
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self.optimizer.zero_grad(set_to_none=True)
            with self._precision():
                logits = self.train_model(x)  # (B, 10)
                loss = self._loss(logits, y, global_count)
            self._backward_and_step(loss)
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
            write_json(self.folder.metrics_file, {"history": [asdict(r) for r in self.state.history],
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
                state.calibration = None  # the weights moved since the last fit: say so rather than keep a stale one
                checkpoint = self.save(RunFolder.LAST)
                self._emit("on_interrupted", checkpoint)
                raise TrainingInterrupted(checkpoint)
            loss_sum, correct, seen = all_reduce_sum(self.dist, [loss_sum, float(correct), float(seen)])
            train_seconds += seconds
            train_images += seen
            last_eval = self._evaluate(data.test_x, data.test_y)
            val = self._evaluate(data.val_x, data.val_y) if len(data.val_y) else None
            state.calibration = self._calibrate(val)
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
            self.save(RunFolder.LAST)
            if improved:
                self.save(RunFolder.BEST)
            self._emit("on_epoch_end", record)
            if cfg.max_steps is not None and state.global_step >= cfg.max_steps:
                break
            if cfg.patience is not None and state.epochs_since_best >= cfg.patience:
                stopped_early = True
                break
        best = self.folder.best_checkpoint
        best_record = state.best_record()
        result = FitResult(
            history=state.history,
            test_loss=last_eval.loss if last_eval else float("nan"),
            test_accuracy=last_eval.accuracy if last_eval else float("nan"),
            train_seconds=train_seconds,
            images_per_second=train_images / max(train_seconds, 1e-9),
            last_checkpoint=self.folder.last_checkpoint if last_eval else None,
            best_checkpoint=best if best_record is not None and best.exists() else None,
            stopped_early=stopped_early,
            test_predictions=last_eval.predictions if last_eval else None,
            best_epoch=state.best_epoch,
            best_val_accuracy=state.best_val_acc,
            best_test_accuracy=best_record.test_acc if best_record else None,
            best_test_loss=best_record.test_loss if best_record else None,
        )
        self._emit("on_end", result)
        return result
