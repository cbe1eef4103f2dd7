"""The one inference path: a model's logits over uint8 digits, in eval mode, without gradients.

Training scores its epochs with it, `mnist evaluate` scores a checkpoint with it and `mnist predict`
reads prepared images with it, so the three can never disagree about what a model answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.resources import MNIST_MEAN, MNIST_STD
from .calibration import Calibrated, Calibration
from .scores import accuracy, cross_entropy_sum


def normalise(images_u8: torch.Tensor, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:
    """(B, 28, 28) uint8 -> (B, 1, 28, 28) float32, scaled to [0, 1] then standardised."""
    return images_u8.unsqueeze(1).float().div_(255.0).sub_(mean).div_(std)


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 256,
                   mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:  # fmt: skip
    """(N, 28, 28) uint8 images (on the model's device) -> (N, 10) float32 logits on the same device.

    The model runs in eval mode and gets its previous mode back afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        parts = [model(normalise(images[start : start + batch_size], mean, std)).float() for start in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.empty((0, 10), device=images.device)


@dataclass
class EvalResult:
    loss: float  # mean cross-entropy
    accuracy: float  # correct / total x 100
    correct: int
    total: int
    predictions: torch.Tensor | None  # (N,) int64, on the CPU; None when sharded over ranks
    logits: np.ndarray | None = None  # (N, 10) float32: what a temperature is fitted on


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
             mean: float = MNIST_MEAN, std: float = MNIST_STD) -> EvalResult:  # fmt: skip
    """Score a model on labelled uint8 images: mean cross-entropy, accuracy and the predictions
    (computed by `scores`, as every other path does)."""
    logits = predict_logits(model, images, batch_size, mean, std).cpu().numpy()
    targets = labels.cpu().numpy()
    total = len(targets)
    predictions = logits.argmax(axis=1) if total else np.empty(0, dtype=np.int64)
    percent, correct = accuracy(predictions, targets)
    return EvalResult(cross_entropy_sum(logits, targets) / max(1, total), percent, correct, total, torch.from_numpy(predictions), logits)


class TorchModel(Calibrated):
    """A model on the torch engine behind the interface `OnnxModel` has: uint8 digits in, logits out
    (numpy), and probabilities with its calibration applied (`predict_proba`).

    Args:
        model: the network (moved to `device`).
        mean, std: the normalisation it was trained with.
        calibration: the temperature fitted when it was trained (None: uncalibrated).
    """

    engine = "torch"

    def __init__(self, model: nn.Module, mean: float = MNIST_MEAN, std: float = MNIST_STD, device: str | torch.device = "cpu",
                 calibration: Calibration | None = None) -> None:  # fmt: skip
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.mean, self.std = mean, std
        self.calibration = calibration

    def logits(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 28, 28) uint8 -> (N, 10) float32 logits."""
        batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)).to(self.device)
        return predict_logits(self.model, batch, batch_size, self.mean, self.std).cpu().numpy()
