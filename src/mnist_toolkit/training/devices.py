"""Which device a run trains on: `auto`, `cpu`, `cuda` or `mps`, each checked for availability."""

from __future__ import annotations

import torch

from ..errors import ConfigError, UnknownName

__all__ = ["resolve_device"]

_DEVICES = {
    "cpu": lambda: True,
    "cuda": lambda: torch.cuda.is_available(),
    "mps": lambda: getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
}


def resolve_device(name: str) -> torch.device:
    """`auto` picks cuda, then mps, then cpu; an explicit device must be available.

    Raises:
        UnknownName: an unknown device.
        ConfigError: an unavailable device.
    """
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if _DEVICES[d]()))
    if name not in _DEVICES:
        raise UnknownName.of("device", name, ["auto", *_DEVICES], hint="auto picks cuda (an NVIDIA GPU), then mps, then cpu")
    if not _DEVICES[name]():
        raise ConfigError(f"device {name!r} is not available on this machine", hint="use --device auto or cpu")
    return torch.device(name)
