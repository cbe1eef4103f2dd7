"""Is it a digit at all? The shipped "not a digit" detector, on ONNX Runtime and numpy alone (no torch).

Three small classifiers over the 28x28 MNIST-style input the reading prepares (the very input a digit
model sees) and, since the second build of 2026-12-03, three over the context view the reading makes
beside it (`reading.context`: the image around the ink, which the 28x28 cannot see); one ONNX model
with two inputs, so it serves the pretrained model and every user's run alike. It is built by
`benchmarks/build_digitness.py` (MNIST training digits and real-world digits against drawn shapes,
doodles, scribbles, textures, letters and photos of surfaces) into `pretrained/digitness.onnx` with
its card `digitness.json`: how it was built, the threshold and how it was chosen, and what
`benchmarks/not_a_digit.py` measured. On kinds of non-digits never seen in training
(benchmarks/results/not_a_digit.json, ninth build, 2026-12-03): 91.0 % of 36 kinds refused (target
90 %), printed and handwritten letters and signs 86.2 % (target 80 %), a lightning bolt, which at
28x28 is an open 4, 18 %; at a cost to real digits of 0.00 % of the MNIST test digits, at most 0.30 %
of a real-world test set's (0.30 points lost at worst; 0.50 % of 1,000 development phone photos) and
0.40 % of digits printed in typefaces it never trained on. A detector
without a context input is read too (the views are then not used). When the package has no detector
files, `shipped_detector()` is None and every input is read as a digit.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..reading.context import SIDE as CONTEXT_SIDE
from ..reading.context import context_of_inputs

DETECTOR_DIR = Path(__file__).parent.parent / "pretrained"
DETECTOR_NAME = "digitness"
_HINT = "reinstall the package, or rebuild the detector with benchmarks/build_digitness.py"
#: Images scored per ONNX Runtime call: bounded memory whatever the batch.
BATCH_SIZE = 1024


#: The name of the optional second input of a detector: the context view (`reading.context`).
CONTEXT_INPUT = "context"


class DigitnessDetector:
    """The probability that a prepared 28x28 input holds a digit, and the refusal threshold.

    Args:
        path: the `.onnx` file, (B, 28, 28) uint8 -> (B,) or (B, 1) probabilities; it may take a
            second input named `CONTEXT_INPUT`, (B, 32, 32) uint8, the view around each input's ink.
        threshold: inputs scoring below it are not digits.
        card: what the card says about the detector (how it was built, measured numbers).

    Raises:
        ModelFileError: missing or not a readable (B, 28, 28) uint8 model.
    """

    def __init__(self, path: str | Path, threshold: float, card: dict | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.threshold = float(threshold)
        self.card = card or {}
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: no such detector model", hint=_HINT)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no warnings on stderr
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / InvalidGraph types
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError(f"{self.path}: not a readable ONNX model ({first[:160]})", hint=_HINT) from None
        inputs = {i.name: i for i in self.session.get_inputs()}
        context = inputs.pop(CONTEXT_INPUT, None)
        (image,) = inputs.values() if len(inputs) == 1 else (None,)
        if (image is None or image.type != "tensor(uint8)" or list(image.shape)[1:] != [28, 28]
                or (context is not None and (context.type != "tensor(uint8)" or list(context.shape)[1:] != [CONTEXT_SIDE, CONTEXT_SIDE]))):  # fmt: skip
            found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in self.session.get_inputs())
            raise ModelFileError(f"{self.path}: expects input ({found}), not (batch, 28, 28) uint8 [and {CONTEXT_INPUT} (batch, {CONTEXT_SIDE}, {CONTEXT_SIDE}) uint8]", hint=_HINT)
        self.input_name = image.name
        self.reads_context = context is not None

    def scores(self, images: np.ndarray, contexts: np.ndarray | None = None) -> np.ndarray:
        """(N, 28, 28) uint8 prepared inputs (or one (28, 28)) -> (N,) float32 probability of a digit.

        `contexts`: their (N, 32, 32) context views (`Prepared.context`; an array, or a list in which
        None stands for no view), for a detector that reads them; an input without one is taken as an
        image of its own (as the reading takes an MNIST-style image).
        """
        images = np.ascontiguousarray(images, dtype=np.uint8)
        if images.ndim == 2:
            images = images[None]
        feeds = {self.input_name: images}
        if self.reads_context:
            if contexts is None:
                contexts = context_of_inputs(images)
            elif any(c is None for c in contexts):  # a list: inputs without a view are images of their own
                contexts = [c if c is not None else context_of_inputs(image[None])[0] for c, image in zip(contexts, images)]
            feeds[CONTEXT_INPUT] = np.ascontiguousarray(np.asarray(contexts), dtype=np.uint8).reshape(len(images), CONTEXT_SIDE, CONTEXT_SIDE)
        parts = [self.session.run(None, {name: value[start : start + BATCH_SIZE] for name, value in feeds.items()})[0].reshape(-1)
                 for start in range(0, len(images), BATCH_SIZE)]  # fmt: skip
        return np.concatenate(parts).astype(np.float32) if parts else np.empty(0, np.float32)

    def is_digit(self, images: np.ndarray, contexts: np.ndarray | None = None) -> np.ndarray:
        """(N, 28, 28) uint8 [and their context views, as for `scores`] -> (N,) bool: True where the
        input holds a digit (score >= threshold)."""
        return self.scores(images, contexts) >= self.threshold


def load_detector(path: str | Path) -> DigitnessDetector:
    """The detector in `path` (.onnx) with the threshold of its card (the .json beside it).

    Raises:
        ModelFileError: the model or its card is missing or unreadable.
    """
    path = Path(path)
    card_path = path.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text())
        threshold = float(card["threshold"]["value"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{card_path}: no usable detector card ({type(exc).__name__})", hint=_HINT) from None
    return DigitnessDetector(path, threshold, card)


@lru_cache(maxsize=1)
def shipped_detector() -> DigitnessDetector | None:
    """The detector shipped in the package, loaded once; None when its files are missing."""
    path = DETECTOR_DIR / f"{DETECTOR_NAME}.onnx"
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    return load_detector(path)
