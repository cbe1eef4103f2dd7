"""Checkpoints: plain tensors and types only, written atomically, loaded with `weights_only=True` only."""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

from ..errors import CheckpointError
from ..files import atomic_write_bytes

FORMAT = "mnist-toolkit/1"
_REQUIRED = ("format", "arch", "model_args", "model_state", "config", "normalization")


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Serialise a checkpoint dict (tensors, numbers, strings, lists, dicts) to `path` atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.part"):  # left by a writer killed mid-write; never a valid file
        stale.unlink(missing_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> dict:
    """Load a checkpoint with `torch.load(weights_only=True)`; nothing in it can run code.

    Raises:
        CheckpointError: missing, truncated, not a checkpoint, holding non-plain objects, or not ours.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with warnings.catch_warnings():  # torch's "pickle protocol N ... please file an issue" on foreign files
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unpickling failed"
        raise CheckpointError(
            f"{path}: refused: not a plain-tensor checkpoint ({first[:160]})",
            hint="only checkpoints written by `mnist train` load; never load files from untrusted sources",
        ) from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # torch.load's reader fails in many ways on foreign bytes (KeyError, IndexError, ...)
        raise CheckpointError(
            f"{path}: truncated or not a PyTorch checkpoint ({type(exc).__name__})",
            hint="use the run's checkpoints/last.pt, or train again with `mnist train`",
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not an mnist-toolkit checkpoint (format {payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r})",
            hint="train a model with `mnist train`",
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(missing)}")
    return payload


def rebuild_model(payload: dict):
    """The model a checkpoint describes, with its weights loaded, in eval mode.

    Raises:
        CheckpointError: the weights do not fit the described architecture.
    """
    from ..models import create_model

    model = create_model(payload["arch"], **payload["model_args"])
    try:
        model.load_state_dict(payload["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint weights do not fit architecture {payload['arch']!r}: {str(exc).splitlines()[0]}",
            hint="the checkpoint may come from another version; train again",
        ) from None
    return model.eval()
