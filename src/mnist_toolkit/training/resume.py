"""The rules for continuing training: resuming a run, extending it, or starting a new run from its weights.

- `--resume RUN` continues the same training. Only `RESUMABLE` options may be given with it: how long
  to go on (`--epochs`, `--max-steps`, `--patience`) and where (`--threads`, `--device`). Any other
  option is an error that names it and points to `--init-from`, never silently ignored.
- Extending `--epochs` (or shortening them) rebuilds the learning-rate schedule for the new length
  and advances it to the step the run has reached: the run goes on as if it had been started with
  the new number of epochs. The learning rate moves from the old curve to the new one at that
  point (a finished cosine or one-cycle schedule rises again to the new curve's value there); the
  change is reported, never silent.
- `--init-from RUN_OR_CHECKPOINT` starts a new run whose network starts from those weights (the
  network is the source's; optimizer, schedule, data and every other option are the new run's).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..inference.checkpoint import load_checkpoint
from .config import CNN_OPTIONS, TrainConfig, validate
from ..errors import CheckpointError, ConfigError

#: Options that may be given with --resume.
RESUMABLE = ("epochs", "max_steps", "patience", "threads", "device")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def resume_config(checkpoint_path: Path, given: dict, config_file: str | Path | None = None) -> tuple[TrainConfig, dict]:
    """The saved config of a checkpoint with the RESUMABLE options the user gave, and the checkpoint's payload.

    Args:
        given: the command line's training options (None = not given).

    Raises:
        ConfigError: an option that cannot change on resume was given.
    """
    refused = [_flag(name) for name, value in given.items() if value is not None and name not in RESUMABLE]
    if config_file is not None:
        refused.append("--config")
    if refused:
        raise ConfigError(
            f"{', '.join(refused)} cannot change when resuming: --resume continues a run as it was configured "
            f"(only {', '.join(map(_flag, RESUMABLE))} may be given)",
            hint="to train on from its weights with other settings, start a new run: mnist train --init-from RUN ...",
        )
    payload = load_checkpoint(checkpoint_path)
    config = TrainConfig.from_dict(payload["config"])
    config = replace(config, max_steps=None)  # a step limit belongs to one invocation
    config = replace(config, **{name: given[name] for name in RESUMABLE if given.get(name) is not None})
    return validate(config), payload


@dataclass(frozen=True)
class ScheduleChange:
    """How the schedule was rebuilt when the number of epochs changed on resume."""

    scheduler: str
    epochs_before: int
    epochs_after: int
    at_step: int
    lr_before: float
    lr_after: float

    def describe(self) -> str:
        return (f"{self.scheduler} schedule rebuilt for {self.epochs_after} epochs (was {self.epochs_before}) and advanced "
                f"to step {self.at_step}: lr {self.lr_before:.3g} -> {self.lr_after:.3g}")  # fmt: skip


def rebuilt_schedule(optimizer, build: Callable, steps: int):
    """A schedule built anew from the optimizer's initial learning rate and advanced by `steps` steps: how a
    resumed run whose epochs changed goes on (the Trainer calls it while it restores the checkpoint).

    Args:
        optimizer: restored from the checkpoint; its learning rate is reset to the initial one first.
        build: () -> the schedule for the new number of epochs.
        steps: the optimizer steps the run has taken.
    """
    for group in optimizer.param_groups:  # chained schedules (cosine, step) start from the current lr
        group["lr"] = group.get("initial_lr", group["lr"])
    scheduler = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "scheduler.step() before optimizer.step()": intended here
        for _ in range(steps):
            scheduler.step()
    return scheduler


def init_from_config(config: TrainConfig, given: dict, file_options: dict, source: Path) -> TrainConfig:
    """`config` with the source checkpoint's network and `init_from` recorded.

    Raises:
        ConfigError: an architecture option contradicts the source's network.
    """
    payload = load_checkpoint(source)
    arch, model_args = payload["arch"], dict(payload.get("model_args", {}))
    asked = {**file_options, **{k: v for k, v in given.items() if v is not None}}
    clashes = []
    if "arch" in asked and asked["arch"] != arch:
        clashes.append(f"--arch {asked['arch']} (the source is {arch})")
    for name in CNN_OPTIONS:
        if name in asked and model_args.get(name) != asked[name] and not (isinstance(asked[name], int) and model_args.get(name) == [asked[name]]):
            clashes.append(f"{_flag(name)} {asked[name]} (the source has {model_args.get(name, 'the default')})")
    if clashes:
        raise ConfigError(f"--init-from keeps the source's network; these differ: {'; '.join(clashes)}",
                          hint="leave the architecture options out, or train the new network from scratch")  # fmt: skip
    return validate(replace(config, arch=arch, model_args=model_args, init_from=str(source)))


@dataclass(frozen=True)
class InitialWeights:
    """The weights a new run's network starts from (--init-from), and the checkpoint they come from."""

    source: Path
    model_state: dict

    @classmethod
    def load(cls, source: str | Path) -> InitialWeights:
        """Read the weights of a checkpoint.

        Raises:
            CheckpointError: missing, unreadable or not an mnist-toolkit checkpoint.
        """
        return cls(Path(source), load_checkpoint(source)["model_state"])

    def load_into(self, model) -> None:
        """Put the weights into `model`.

        Raises:
            CheckpointError: the weights do not fit the model.
        """
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as exc:
            raise CheckpointError(f"{self.source}: its weights do not fit this network ({str(exc).splitlines()[0]})") from None
