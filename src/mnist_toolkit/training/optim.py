"""Optimizers and learning-rate schedules by name, each with its own sensible defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import UnknownName


@dataclass(frozen=True)
class OptimInfo:
    """A registered optimizer: how to build it and what it takes."""

    name: str
    description: str
    default_lr: float
    build: Callable  # build(params, lr, momentum, weight_decay, betas) -> torch.optim.Optimizer
    default_momentum: float | None = None  # None: the optimizer takes no momentum
    uses_betas: bool = False


def _sgd(params, lr, momentum, weight_decay, betas):
    return torch.optim.SGD(params, lr=lr, momentum=momentum or 0.0, weight_decay=weight_decay)


def _nesterov(params, lr, momentum, weight_decay, betas):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)


OPTIMIZERS: dict[str, OptimInfo] = {
    info.name: info
    for info in (
        OptimInfo("adam", "Adam (Kingma & Ba)", 1e-3,
                  lambda p, lr, m, wd, b: torch.optim.Adam(p, lr=lr, betas=b, weight_decay=wd), uses_betas=True),
        OptimInfo("adamw", "AdamW: Adam with decoupled weight decay", 1e-3,
                  lambda p, lr, m, wd, b: torch.optim.AdamW(p, lr=lr, betas=b, weight_decay=wd), uses_betas=True),
        OptimInfo("sgd", "Plain SGD (momentum 0 unless --momentum)", 0.05, _sgd, default_momentum=0.0),
        OptimInfo("nesterov", "SGD with Nesterov momentum 0.9", 0.02, _nesterov, default_momentum=0.9),
        OptimInfo("rmsprop", "RMSprop", 1e-3,
                  lambda p, lr, m, wd, b: torch.optim.RMSprop(p, lr=lr, momentum=m or 0.0, weight_decay=wd),
                  default_momentum=0.0),
        OptimInfo("adadelta", "Adadelta (lr 1.0 as in pytorch/examples)", 1.0,
                  lambda p, lr, m, wd, b: torch.optim.Adadelta(p, lr=lr, weight_decay=wd)),
    )
}  # fmt: skip


def optimizer_info(name: str) -> OptimInfo:
    """The registry entry of `name`; raises UnknownName listing the valid ones."""
    if name not in OPTIMIZERS:
        raise UnknownName(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def create_optimizer(name: str, params, lr: float | None = None, momentum: float | None = None,
                     weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:  # fmt: skip
    """Build an optimizer; unset lr and momentum take the optimizer's own defaults."""
    info = optimizer_info(name)
    return info.build(
        params,
        info.default_lr if lr is None else lr,
        info.default_momentum if momentum is None else momentum,
        weight_decay,
        tuple(betas),
    )


def _step_schedule(optimizer, total_steps: int, steps_per_epoch: int, epochs: int, max_lr: float):
    step_size = max(1, epochs // 3) * steps_per_epoch
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=0.1)


def _cosine(optimizer, total_steps, steps_per_epoch, epochs, max_lr):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))


def _onecycle(optimizer, total_steps, steps_per_epoch, epochs, max_lr):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(2, total_steps))


#: Schedules, stepped once per optimizer step. `step`: x0.1 every third of the epochs.
SCHEDULERS: dict[str, Callable | None] = {"none": None, "step": _step_schedule, "cosine": _cosine, "onecycle": _onecycle}


def create_scheduler(name: str, optimizer, total_steps: int, steps_per_epoch: int, epochs: int, max_lr: float):
    """Build a per-step LR schedule, or None for `none`; raises UnknownName for an unknown name."""
    if name not in SCHEDULERS:
        raise UnknownName(f"unknown scheduler {name!r}: choose one of {', '.join(SCHEDULERS)}")
    factory = SCHEDULERS[name]
    return None if factory is None else factory(optimizer, total_steps, steps_per_epoch, epochs, max_lr)
