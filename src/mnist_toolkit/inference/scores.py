"""The one place where logits become numbers: probabilities, the loss, accuracy and the top-k.

Every path scores with these functions (numpy, no torch): training's epoch scores, `mnist evaluate`
on both engines, `mnist predict`, the server and the Python API, so they can never disagree.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def cross_entropy_sum(logits: np.ndarray, labels: np.ndarray) -> float:
    """Summed cross-entropy of (N, C) logits against (N,) integer labels."""
    if not len(labels):
        return 0.0
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels.astype(np.int64)].sum())


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """(correct / total x 100, correct) of (N,) predicted classes against (N,) labels; 0 for no labels."""
    correct = int((np.asarray(predictions) == np.asarray(labels)).sum())
    return 100.0 * correct / max(1, len(labels)), correct


def ranked(probabilities: np.ndarray, k: int) -> list[dict]:
    """The `k` likeliest classes of one (C,) probability row, most probable first: [{digit, p}]."""
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(k, len(probabilities)))]
    return [{"digit": int(d), "p": float(probabilities[d])} for d in order]
