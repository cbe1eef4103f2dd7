"""Calibrated confidence: a temperature fitted on held-out logits, and how well confidences match accuracy.

A network trained with label smoothing is under-confident (the pretrained model: 90.7 % mean
confidence, 99.58 % right). Dividing its logits by one temperature T, fitted to minimise the negative
log-likelihood on the validation split (never the test set), makes "90 % sure" mean right 9 times in
10 while leaving every answer as it was (the order of the logits does not change). Numpy only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .scores import cross_entropy_sum, softmax

#: Bins of the expected calibration error and the reliability diagram (the usual choice since
#: Guo et al. 2017, "On calibration of modern neural networks").
ECE_BINS = 15
#: The temperature is searched between these bounds (log-spaced): far beyond any network's need.
T_MIN, T_MAX = 0.05, 20.0
#: Golden-section steps on log T: the bracket shrinks to 0.618^40 of its width (T to 1e-8).
SEARCH_STEPS = 40


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of (N, C) logits divided by `temperature`."""
    return cross_entropy_sum(np.asarray(logits, np.float64) / temperature, labels) / max(1, len(labels))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the NLL of logits / T (convex in 1/T: one minimum, found by golden
    section on log T between T_MIN and T_MAX)."""
    logits = np.asarray(logits, np.float64)
    low, high = math.log(T_MIN), math.log(T_MAX)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(SEARCH_STEPS):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(logits, labels, math.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(logits, labels, math.exp(b))
    return float(math.exp((low + high) / 2))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin (equal widths over [0, 1]): {low, high, count, confidence, accuracy}
    (mean confidence of the top answer and its accuracy, in [0, 1]; None for an empty bin)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        rows.append({"low": b / bins, "high": (b + 1) / bins, "count": count,
                     "confidence": float(confidence[members].mean()) if count else None,
                     "accuracy": float(correct[members].mean()) if count else None})  # fmt: skip
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE in [0, 1]: the count-weighted mean |accuracy - confidence| over the confidence bins."""
    total = max(1, len(labels))
    return float(sum(row["count"] / total * abs(row["accuracy"] - row["confidence"]) for row in reliability(probabilities, labels, bins) if row["count"]))


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it did on the data it was fitted on."""

    temperature: float
    fitted_on: str  # e.g. "validation split (5,000 images)"
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, value) -> Calibration | None:
        """A stored calibration, or None when absent or not one (an older checkpoint or model)."""
        try:
            calibration = cls(**value)
            if not (isinstance(calibration.temperature, (int, float)) and math.isfinite(calibration.temperature) and calibration.temperature > 0):
                return None
            return calibration
        except TypeError:
            return None


class Calibrated:
    """What a predictor with `logits(images, batch_size)` and a `calibration` shows people:
    probabilities with the temperature applied (plain softmax when it has none)."""

    calibration: Calibration | None = None

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0

    def logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N, 10) calibrated probabilities."""
        return softmax(self.logits(images, batch_size) / self.temperature)


def calibrate(logits: np.ndarray, labels: np.ndarray, fitted_on: str) -> Calibration:
    """Fit the temperature on held-out (N, C) logits and (N,) labels, and measure before and after."""
    temperature = fit_temperature(logits, labels)
    logits = np.asarray(logits, np.float64)
    return Calibration(temperature, fitted_on, nll(logits, labels), nll(logits, labels, temperature),
                       expected_calibration_error(softmax(logits), labels),
                       expected_calibration_error(softmax(logits / temperature), labels))  # fmt: skip
