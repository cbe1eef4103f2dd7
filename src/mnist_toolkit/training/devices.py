"""Which device a run trains on (`auto`, `cpu`, `cuda` or `mps`, each checked for availability), and the
mixed precision each device offers: float16 on CUDA, bfloat16 on a CPU that computes it natively."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError, UnknownName

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = ["amp_dtype", "amp_for", "channels_last_for", "cpu_has_bf16", "resolve_device"]

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


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as PyTorch's own checks say.

    Detected, not assumed: without it autocast to bfloat16 still runs, emulated, and is slower than float32.
    """
    cpu = torch.cpu
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type of `device` (float16 on CUDA, bfloat16 on a CPU with native bfloat16), else None."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def amp_for(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast type a run of `config` uses on `device`: None (full precision) unless --amp, or "auto"
    (the fast preset) on a CPU with native bfloat16 (float32 elsewhere, CUDA included, unless --amp).

    Raises:
        ConfigError: --amp on a device without one (a CPU without native bfloat16, mps).
    """
    if config.amp is False or (config.amp == "auto" and device.type != "cpu"):
        return None
    dtype = amp_dtype(device)
    if dtype is None and config.amp is True:
        where = "this CPU computes no bfloat16 natively (AVX512-BF16 or AMX)" if device.type == "cpu" else f"{device.type} has none here"
        raise ConfigError(f"--amp (mixed precision) needs CUDA or a CPU with native bfloat16: {where}", hint="drop --amp")
    return dtype


def channels_last_for(config: TrainConfig, amp: torch.dtype | None) -> bool:
    """Whether a run of `config` keeps its model and batches channels-last: "auto" under CPU bfloat16
    only, where convolutions run fastest that way (8.1 -> 5.5 ms per step of the fast preset's network,
    float32 -> bfloat16 channels-last); True (the fast preset) in float32 too (measured on a CPU without
    bfloat16: 29 -> 24 ms per step, batch 128, 2 cores). A change of format changes the arithmetic, so
    it is part of the recipe, not of the device.
    """
    if config.channels_last == "auto":
        return amp == torch.bfloat16
    return bool(config.channels_last)
