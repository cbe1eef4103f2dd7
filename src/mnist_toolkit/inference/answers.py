"""What a model read in an image: a `Reading` per digit and a `NumberReading` per row of digits.

Built in one place (`readings`) from a model's logits and the prepared 28x28 inputs, and rendered
alike by `mnist predict`, the server and the Python API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scores import ranked


@dataclass(frozen=True)
class Reading:
    """One digit as a model read it.

    Attributes:
        digit: the likeliest digit.
        confidence: its probability.
        probabilities: (10,) float, one per digit.
        top_k: the likeliest digits, most probable first: [{"digit": d, "p": p}].
        box: (left, top, right, bottom) of the digit in the source image, if known.
        input: (28, 28) uint8, the MNIST-style image the model saw.
    """

    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)
    top_k: list[dict]
    box: tuple[int, int, int, int] | None
    input: np.ndarray = field(repr=False)

    def to_json(self) -> dict:
        """{digit, confidence, top_k, box}: the fields every front-end shows."""
        return {"digit": self.digit, "confidence": self.confidence, "top_k": self.top_k, "box": list(self.box) if self.box else None}


@dataclass(frozen=True)
class NumberReading:
    """A row of digits read left to right; its confidence is the product of its digits'."""

    digits: list[Reading]

    @property
    def number(self) -> str:
        return "".join(str(reading.digit) for reading in self.digits)

    @property
    def confidence(self) -> float:
        return float(np.prod([reading.confidence for reading in self.digits]))


def readings(probabilities: np.ndarray, inputs: list[np.ndarray], boxes: list, top_k: int = 3) -> list[Reading]:
    """One Reading per row of (N, 10) probabilities (a model's `predict_proba`: calibrated), with its
    (28, 28) input and source box."""
    result = []
    for p, image, box in zip(np.asarray(probabilities, dtype=np.float32), inputs, boxes):
        likeliest = ranked(p, top_k)
        result.append(Reading(likeliest[0]["digit"], likeliest[0]["p"], p, likeliest, tuple(box) if box else None, image))
    return result
