"""What a model read in an image: a `Reading` per digit and a `NumberReading` per row of digits.

Built in one place (`read_inputs`, then `readings`) from a model's calibrated probabilities, the
"not a digit" detector's scores and the prepared 28x28 inputs, and rendered alike by `mnist predict`,
the server and the Python API. A reading the detector refuses keeps its best guess (`digit`,
`confidence`, `top_k`) and says why in `refusal`; each front-end shows it as "not a digit".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..reading.prepare import ImageError
from .scores import ranked


class NotADigit(ImageError):
    """An image whose ink does not look like a digit (a star, a letter, a photo of a thing): refused as
    "no digit found" is. `reading` keeps the best guess (a `Reading`, or a `NumberReading` for a row)."""

    def __init__(self, message: str, reading=None) -> None:
        super().__init__(message, hint="use an image of a handwritten digit")
        self.reading = reading


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
        digit_score: the detector's probability that the input holds a digit (None: not checked).
        refusal: why the input is not a digit ("not a digit: ..."), or None when it is one.
    """

    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)
    top_k: list[dict]
    box: tuple[int, int, int, int] | None
    input: np.ndarray = field(repr=False)
    digit_score: float | None = None
    refusal: str | None = None

    @property
    def is_digit(self) -> bool:
        return self.refusal is None

    def to_json(self) -> dict:
        """{digit, confidence, top_k, box, digit_score, not_digit}: the fields every front-end shows
        (for a refused input, digit and confidence are null and top_k holds the best guesses)."""
        refused = self.refusal is not None
        return {"digit": None if refused else self.digit, "confidence": None if refused else self.confidence, "top_k": self.top_k,
                "box": list(self.box) if self.box else None, "digit_score": self.digit_score, "not_digit": refused}  # fmt: skip


@dataclass(frozen=True)
class NumberReading:
    """A row of digits read left to right; its confidence is the product of its digits'."""

    digits: list[Reading]

    @property
    def number(self) -> str | None:
        """The digits read, left to right; None when any of them is not a digit."""
        if self.refusal is not None:
            return None
        return "".join(str(reading.digit) for reading in self.digits)

    @property
    def refusal(self) -> str | None:
        """Why the row is not a number (its first input that is not a digit), or None."""
        refused = [i for i, reading in enumerate(self.digits) if reading.refusal is not None]
        if not refused:
            return None
        if len(self.digits) == 1:
            return self.digits[0].refusal
        return f"not a digit: mark {refused[0] + 1} of {len(self.digits)} does not look like a digit" + (
            f" ({len(refused)} such marks)" if len(refused) > 1 else "")

    @property
    def confidence(self) -> float | None:
        """The product of the digits' confidences; None when the row is not a number."""
        if self.refusal is not None:
            return None
        return float(np.prod([reading.confidence for reading in self.digits]))


def readings(probabilities: np.ndarray, inputs: list[np.ndarray], boxes: list, top_k: int = 3,
             digit_scores: np.ndarray | None = None, threshold: float | None = None) -> list[Reading]:  # fmt: skip
    """One Reading per row of (N, 10) probabilities (a model's `predict_proba`: calibrated), with its
    (28, 28) input and source box; with `digit_scores`, inputs scoring under `threshold` are refused."""
    result = []
    scores = [None] * len(inputs) if digit_scores is None else [float(s) for s in digit_scores]
    for p, image, box, score in zip(np.asarray(probabilities, dtype=np.float32), inputs, boxes, scores):
        likeliest = ranked(p, top_k)
        refusal = None
        if score is not None and threshold is not None and score < threshold:
            refusal = (f"not a digit: it does not look like a handwritten digit (digit score {score:.3f}, under {threshold:.3f}; "
                       f"best guess {likeliest[0]['digit']} at {100 * likeliest[0]['p']:.0f}%)")  # fmt: skip
        result.append(Reading(likeliest[0]["digit"], likeliest[0]["p"], p, likeliest, tuple(box) if box else None, image, score, refusal))
    return result


def read_inputs(predictor, images: np.ndarray, boxes: list, top_k: int = 3, detector=None, contexts=None) -> list[Reading]:
    """Read (N, 28, 28) uint8 prepared inputs: `predictor.predict_proba` (calibrated), and, with a
    `detector` (`digitness.DigitnessDetector`), each input checked to be a digit at all (given the
    inputs' `contexts`, their `Prepared.context` views, when there are)."""
    images = np.asarray(images)
    scores = detector.scores(images, contexts) if detector is not None and len(images) else None
    return readings(predictor.predict_proba(images), list(images), boxes, top_k, scores, detector.threshold if detector is not None else None)
