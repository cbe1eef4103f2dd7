"""Exporting a checkpoint for deployment: ONNX (for ONNX Runtime) and pt2 (`torch.export`), each
checked against torch on real digits before it is written.

The exported graph takes (B, 28, 28) uint8 digits, any batch size, and returns (B, 10) logits: the
normalisation the model was trained with is part of the graph, so a consumer needs no torch and no
constants. What the model is (architecture, arguments, normalisation, the run it came from, its test
accuracy) travels in the file: ONNX metadata, or an extra file of the pt2 archive.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ModelFileError, OutputError, UnknownName
from ..files import atomic_write_bytes
from ..runs import test_accuracy_of
from .onnx_model import INPUT_NAME, METADATA_KEY

EXPORT_FORMAT = "mnist-toolkit-export/1"
PT2_METADATA_FILE = "mnist_toolkit.json"
#: How many MNIST test digits an export must read exactly as torch does before it is written.
CHECK_DIGITS = 1000


class DeployableClassifier(nn.Module):
    """A trained network behind a uint8 interface: (B, 28, 28) uint8 -> (B, 10) logits."""

    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model = model
        self.mean, self.std = float(mean), float(std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 28, 28) uint8
        x = images.unsqueeze(1).to(torch.float32) / 255.0  # (B, 1, 28, 28)
        return self.model((x - self.mean) / self.std)


@dataclass
class ExportResult:
    path: Path
    format: str
    exporter: str  # how the file was made (dynamo, torchscript fallback, torch.export)
    checked: int  # digits both engines read
    agree: int  # of those, the same arg-max
    max_logit_difference: float
    bytes: int
    seconds: float
    metadata: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"path": str(self.path), "format": self.format, "exporter": self.exporter, "checked": self.checked,
                "agree": self.agree, "max_logit_difference": self.max_logit_difference, "bytes": self.bytes,
                "seconds": self.seconds, "metadata": self.metadata}  # fmt: skip


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str
    description: str
    build: Callable[[nn.Module, dict], tuple[bytes, str]]  # (deployable, metadata) -> (file bytes, exporter)
    run: Callable[[bytes, np.ndarray], np.ndarray]  # (file bytes, uint8 digits) -> logits


def _example() -> torch.Tensor:
    return torch.zeros((2, 28, 28), dtype=torch.uint8)


def _batch_dim() -> dict:
    return {INPUT_NAME: {0: torch.export.Dim("batch", min=1, max=65536)}}


def _build_onnx(deployable: nn.Module, metadata: dict) -> tuple[bytes, str]:
    import warnings

    import onnx

    try:  # the dynamo exporter (torch.export-based), the supported one
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(deployable, (_example(),), dynamo=True, input_names=[INPUT_NAME],
                                        output_names=["logits"], dynamic_shapes=_batch_dim(), verbose=False)  # fmt: skip
        proto, exporter = program.model_proto, "torch.onnx.export (dynamo)"
    except Exception:  # an architecture it cannot trace yet: the TorchScript-based exporter
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(deployable, (_example(),), buffer, dynamo=False, input_names=[INPUT_NAME],
                              output_names=["logits"], dynamic_axes={INPUT_NAME: {0: "batch"}, "logits": {0: "batch"}})  # fmt: skip
        proto, exporter = onnx.load_from_string(buffer.getvalue()), "torch.onnx.export (torchscript fallback)"
    _strip_debug_metadata(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata)
    proto.producer_name = "mnist-toolkit"
    return proto.SerializeToString(), exporter


def _strip_debug_metadata(proto) -> None:
    """Drop the exporter's per-node debug metadata (Python stack traces with this machine's paths,
    FX node names): they say nothing about the model and make the file larger."""
    graphs = [proto.graph] + [f for f in proto.functions]
    for graph in graphs:
        for node in graph.node:
            del node.metadata_props[:]
            node.doc_string = ""


def _run_onnx(payload: bytes, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(payload, sess_options=options, providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: images})[0]


def _build_pt2(deployable: nn.Module, metadata: dict) -> tuple[bytes, str]:
    program = torch.export.export(deployable, (_example(),), dynamic_shapes=_batch_dim())
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={PT2_METADATA_FILE: json.dumps(metadata)})
    return buffer.getvalue(), "torch.export"


def _run_pt2(payload: bytes, images: np.ndarray) -> np.ndarray:
    program = torch.export.load(io.BytesIO(payload))
    with torch.no_grad():
        return program.module()(torch.from_numpy(images)).numpy()


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx", ".onnx", "ONNX for ONNX Runtime (mnist predict/evaluate --engine onnx)", _build_onnx, _run_onnx),
        ExportFormat("pt2", ".pt2", "torch.export archive for PyTorch deployment (torch.export.load)", _build_pt2, _run_pt2),
    )
}


def export_format(name: str) -> ExportFormat:
    """The export format of that name.

    Raises:
        UnknownName: not one of FORMATS.
    """
    if name not in FORMATS:
        raise UnknownName(f"unknown export format {name!r}: choose one of {', '.join(FORMATS)}", hint="e.g. --format onnx")
    return FORMATS[name]


def checkpoint_test_accuracy(payload: dict) -> float | None:
    """The test accuracy measured on a checkpoint's own weights: its last finished epoch's."""
    return test_accuracy_of(payload.get("history") or [])


def export_metadata(payload: dict, source: str) -> dict:
    """What an exported file says about itself."""
    return {
        "format": EXPORT_FORMAT,
        "arch": payload["arch"],
        "model_args": payload["model_args"],
        "normalization": payload["normalization"],
        "source": source,
        "test_accuracy": checkpoint_test_accuracy(payload),
        "global_step": payload.get("global_step"),
        "params": payload.get("params"),
        "calibration": payload.get("calibration"),  # the temperature fitted on the validation split, if any
        "torch": torch.__version__,
    }


def export_model(payload: dict, source: str, fmt: str, out: str | Path, check_images: np.ndarray) -> ExportResult:
    """Export a loaded checkpoint, check it against torch on `check_images`, then write it atomically.

    Args:
        payload: a checkpoint from `load_checkpoint`.
        source: where it came from (recorded in the file).
        fmt: a name from FORMATS.
        out: the destination file; its folder must exist.
        check_images: (N, 28, 28) uint8 digits both engines must read alike.

    Raises:
        UnknownName: an unknown format.
        OutputError: the destination's folder does not exist, or it is a folder.
        ModelFileError: the exported model disagrees with torch (nothing is written).
    """
    from .checkpoint import rebuild_model

    chosen = export_format(fmt)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"{out} is a folder", hint=f"name a file, e.g. {out / ('model' + chosen.suffix)}")
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent}: no such folder", hint="create it first, or choose another --out")
    started = time.perf_counter()
    model = rebuild_model(payload).cpu().eval()
    norm = payload["normalization"]
    deployable = DeployableClassifier(model, norm["mean"], norm["std"]).eval()
    metadata = export_metadata(payload, source)
    data, exporter = chosen.build(deployable, metadata)
    images = np.ascontiguousarray(check_images, dtype=np.uint8)
    with torch.no_grad():
        expected = deployable(torch.from_numpy(images)).numpy()
    got = chosen.run(data, images)
    single = chosen.run(data, images[:1])  # the batch size is really dynamic
    difference = float(np.abs(got - expected).max()) if len(images) else 0.0
    agree = int((got.argmax(axis=1) == expected.argmax(axis=1)).sum())
    if agree != len(images) or single.shape != (min(1, len(images)), 10) or not np.isfinite(difference):
        raise ModelFileError(f"the {fmt} export disagrees with torch on {len(images) - agree} of {len(images)} digits "
                             f"(max logit difference {difference:.3g}); nothing written",
                             hint="report it; use the torch engine meanwhile")  # fmt: skip
    atomic_write_bytes(out, data)
    return ExportResult(out, fmt, exporter, len(images), agree, difference, len(data), time.perf_counter() - started, metadata)


def export_checkpoint(checkpoint: Path, fmt: str = "onnx", out: Path | None = None, data_dir: str | Path | None = None) -> ExportResult:
    """Export a checkpoint file, by default beside it (best.onnx, last.pt2, ...), checked on the first
    `CHECK_DIGITS` MNIST test digits.

    Raises:
        UnknownName: an unknown format.
        ConfigError: `out` is the checkpoint itself.
        OutputError: `out` is a folder, or in a missing folder.
        CheckpointError: the checkpoint cannot be loaded.
        ModelFileError: the export disagrees with torch (nothing is written).
    """
    from ..data.source import load_split, resolve_source
    from .checkpoint import load_checkpoint

    chosen = export_format(fmt)
    target = Path(out) if out is not None else Path(checkpoint).with_suffix(chosen.suffix)
    if target.resolve() == Path(checkpoint).resolve():
        raise ConfigError(f"--out {target} is the checkpoint itself", hint=f"choose another file, e.g. {target.with_suffix(chosen.suffix)}")
    payload = load_checkpoint(checkpoint)
    test = load_split(resolve_source(data_dir), "test")
    return export_model(payload, str(checkpoint), fmt, target, test.images[:CHECK_DIGITS])
