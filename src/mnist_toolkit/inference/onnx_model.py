"""Inference on ONNX Runtime: an exported model read with numpy and onnxruntime alone.

Importing this module never imports torch, so `mnist predict` and `mnist evaluate` start in a fraction
of the time the torch engine needs. The model takes (B, 28, 28) uint8 digits, normalisation inside its
graph (see `export.py`), and returns (B, 10) logits, exactly as the torch path's `predict_logits`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .calibration import Calibrated, Calibration

#: The ONNX metadata key under which `mnist export` stores what the model is (a JSON object).
METADATA_KEY = "mnist_toolkit"
INPUT_NAME = "images"


class OnnxModel(Calibrated):
    """One ONNX Runtime session over an exported digit classifier.

    Args:
        path: the `.onnx` file.
        threads: intra-op threads (None: onnxruntime's default, one per core).

    Raises:
        ModelFileError: missing, not ONNX, or not a (B, 28, 28) uint8 -> (B, 10) model.
    """

    engine = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: no such ONNX model" + (" (it is a folder)" if self.path.is_dir() else ""))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no warnings on stderr
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / InvalidGraph types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError(f"{self.path}: not a readable ONNX model ({first[:160]})",
                                 hint="export it again with `mnist export`") from None  # fmt: skip
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else None
        if len(inputs) != 1 or inputs[0].type != "tensor(uint8)" or len(shape) != 3 or shape[1:] != [28, 28]:
            found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise ModelFileError(f"{self.path}: expects input ({found}), not (batch, 28, 28) uint8 digits",
                                 hint="use a model written by `mnist export` or `mnist train`")  # fmt: skip
        if len(outputs) != 1 or list(outputs[0].shape)[-1:] != [10]:
            raise ModelFileError(f"{self.path}: its output is not 10 class logits", hint="use a model written by `mnist export`")
        self.input_name = inputs[0].name
        self.metadata = read_metadata(self.session.get_modelmeta().custom_metadata_map)
        self.calibration = Calibration.from_json(self.metadata.get("calibration"))

    def logits(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N, 10) float32 logits."""
        images = np.ascontiguousarray(images, dtype=np.uint8)
        parts = [self.session.run(None, {self.input_name: images[start : start + batch_size]})[0]
                 for start in range(0, len(images), batch_size)]  # fmt: skip
        return np.concatenate(parts).astype(np.float32) if parts else np.empty((0, 10), np.float32)


def read_metadata(custom: dict) -> dict:
    """The toolkit's metadata of an exported model (architecture, normalisation, source, accuracy); {} if absent."""
    try:
        value = json.loads(custom.get(METADATA_KEY, "{}"))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}

