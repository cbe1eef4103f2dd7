"""Pure tensor preprocessing shared by training, evaluation and prediction."""

from __future__ import annotations

import math

import torch

from .resources import MNIST_MEAN, MNIST_STD


def normalise(images_u8: torch.Tensor, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:
    """(B, 28, 28) uint8 -> (B, 1, 28, 28) float32, scaled to [0, 1] then standardised."""
    return images_u8.unsqueeze(1).float().div_(255.0).sub_(mean).div_(std)


def random_affine(
    batch: torch.Tensor,
    generator: torch.Generator | None = None,
    degrees: float = 10.0,
    translate: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    fill: float = (0.0 - MNIST_MEAN) / MNIST_STD,
) -> torch.Tensor:
    """Random rotation, shift and scale of a normalised (B, 1, H, W) batch, on its own device, in one grid_sample.

    `fill` is the normalised value of a black pixel, so the borders stay background.
    """
    count = batch.shape[0]
    device = batch.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(count, generator=generator, device="cpu").to(device) * (high - low) + low

    angle = uniform(-degrees, degrees) * math.pi / 180
    factor = uniform(*scale)
    shift_x, shift_y = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)], dim=1
    )  # (B, 2, 3): output -> input sampling coordinates
    grid = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
    shifted = batch - fill
    warped = torch.nn.functional.grid_sample(shifted, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped + fill


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Percentage of rows whose arg-max is the target: correct / total x 100."""
    if targets.numel() == 0:
        return 0.0
    return (logits.argmax(dim=1) == targets).sum().item() * 100.0 / targets.numel()
