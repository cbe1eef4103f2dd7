"""Optimizers and learning-rate schedules by name, each with its own sensible defaults.

The tables are plain data (torch is imported only when an optimizer or a schedule is built), so the
command line can list their names in its help without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UnknownName

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class OptimInfo:
    """A registered optimizer: how to build it, what it takes and which learning rates `--lr-sweep` tries."""

    name: str
    description: str
    default_lr: float
    torch_class: str  # the class in torch.optim
    default_momentum: float | None = None  # None: the optimizer takes no momentum
    uses_betas: bool = False
    options: dict = field(default_factory=dict)  # fixed keyword arguments of the class, e.g. nesterov=True
    lr_sweep: tuple[float, ...] = ()  # learning rates tried by `mnist compare --lr-sweep`: a small grid around default_lr

    @property
    def takes_momentum(self) -> bool:
        return self.default_momentum is not None


OPTIMIZERS: dict[str, OptimInfo] = {
    info.name: info
    for info in (
        OptimInfo("adam", "Adam (Kingma & Ba)", 1e-3, "Adam", uses_betas=True, lr_sweep=(3e-4, 1e-3, 3e-3)),
        OptimInfo("adamw", "AdamW: Adam with decoupled weight decay", 1e-3, "AdamW", uses_betas=True, lr_sweep=(3e-4, 1e-3, 3e-3)),
        OptimInfo("sgd", "Plain SGD (momentum 0 unless --momentum)", 0.05, "SGD", default_momentum=0.0, lr_sweep=(0.01, 0.05, 0.2)),
        OptimInfo("nesterov", "SGD with Nesterov momentum 0.9", 0.02, "SGD", default_momentum=0.9, options={"nesterov": True},
                  lr_sweep=(0.005, 0.02, 0.08)),
        OptimInfo("rmsprop", "RMSprop", 1e-3, "RMSprop", default_momentum=0.0, lr_sweep=(1e-4, 3e-4, 1e-3)),
        OptimInfo("adadelta", "Adadelta (lr 1.0 as in pytorch/examples)", 1.0, "Adadelta", lr_sweep=(0.3, 1.0, 3.0)),
    )
}  # fmt: skip


def optimizer_info(name: str) -> OptimInfo:
    """The registry entry of `name`; raises UnknownName listing the valid ones."""
    if name not in OPTIMIZERS:
        raise UnknownName.of("optimizer", name, OPTIMIZERS)
    return OPTIMIZERS[name]


def create_optimizer(name: str, params, lr: float | None = None, momentum: float | None = None,
                     weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:  # fmt: skip
    """Build an optimizer; unset lr and momentum take the optimizer's own defaults (momentum only where it applies)."""
    import torch

    info = optimizer_info(name)
    kwargs = {"lr": info.default_lr if lr is None else lr, "weight_decay": weight_decay, **info.options}
    if info.takes_momentum:
        kwargs["momentum"] = info.default_momentum if momentum is None else momentum
    if info.uses_betas:
        kwargs["betas"] = tuple(betas)
    return getattr(torch.optim, info.torch_class)(params, **kwargs)


def _step_schedule(optimizer, total_steps: int, steps_per_epoch: int, epochs: int, max_lr: float):
    from torch.optim.lr_scheduler import StepLR

    return StepLR(optimizer, step_size=max(1, epochs // 3) * steps_per_epoch, gamma=0.1)


def _cosine(optimizer, total_steps, steps_per_epoch, epochs, max_lr):
    from torch.optim.lr_scheduler import CosineAnnealingLR

    return CosineAnnealingLR(optimizer, T_max=max(1, total_steps))


def _onecycle(optimizer, total_steps, steps_per_epoch, epochs, max_lr):
    from torch.optim.lr_scheduler import OneCycleLR

    return OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(2, total_steps))


#: Schedules, stepped once per optimizer step. `step`: x0.1 every third of the epochs.
SCHEDULERS: dict[str, Callable | None] = {"none": None, "step": _step_schedule, "cosine": _cosine, "onecycle": _onecycle}


def create_scheduler(name: str, optimizer, total_steps: int, steps_per_epoch: int, epochs: int, max_lr: float):
    """Build a per-step LR schedule, or None for `none`; raises UnknownName for an unknown name."""
    if name not in SCHEDULERS:
        raise UnknownName.of("scheduler", name, SCHEDULERS)
    factory = SCHEDULERS[name]
    return None if factory is None else factory(optimizer, total_steps, steps_per_epoch, epochs, max_lr)
