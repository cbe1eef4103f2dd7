"""The training augmentations: pure functions of a normalised (B, 1, 28, 28) batch and a generator, on its device."""

from __future__ import annotations

import math

import torch

from ..data.resources import MNIST_MEAN, MNIST_STD


def random_affine(
    batch: torch.Tensor,
    generator: torch.Generator | None = None,
    degrees: float = 10.0,
    translate: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    fill: float = (0.0 - MNIST_MEAN) / MNIST_STD,
    shear: float = 0.0,
) -> torch.Tensor:
    """Random rotation, shift, scale and (with `shear` degrees) slant of a normalised (B, 1, H, W) batch,
    on its own device, in one grid_sample.

    `fill` is the normalised value of a black pixel, so the borders stay background. The slant is a
    horizontal shear: x' = x + tan(shear) * y, as handwriting leans.
    """
    count = batch.shape[0]
    device = batch.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(count, generator=generator, device="cpu").to(device) * (high - low) + low

    angle = uniform(-degrees, degrees) * math.pi / 180
    factor = uniform(*scale)
    shift_x, shift_y = uniform(-translate, translate) * 2, uniform(-translate, translate) * 2
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    lean = torch.tan(uniform(-shear, shear) * math.pi / 180) if shear else torch.zeros_like(cos)
    # (rotation / scale) @ [[1, lean], [0, 1]]: (B, 2, 3), output -> input sampling coordinates
    theta = torch.stack(
        [torch.stack([cos, cos * lean - sin, shift_x], dim=1), torch.stack([sin, sin * lean + cos, shift_y], dim=1)], dim=1
    )
    grid = torch.nn.functional.affine_grid(theta, list(batch.shape), align_corners=False)
    shifted = batch - fill
    warped = torch.nn.functional.grid_sample(shifted, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped + fill


def random_stroke_width(
    batch: torch.Tensor,
    generator: torch.Generator | None = None,
    thicker: float = 0.5,
    thinner: float = 0.25,
    mean: float = MNIST_MEAN,
    std: float = MNIST_STD,
) -> torch.Tensor:
    """Random stroke width of a normalised (B, 1, H, W) batch: some digits thicker, some thinner.

    Each image is, with probability `thicker`, blended towards its grey dilation (3x3 maximum: the
    stroke grows by up to a pixel on each side, as with a felt pen or a heavy scan), with probability
    `thinner` towards its grey erosion (3x3 minimum, at most 60 %, so thin strokes survive), and
    otherwise left alone; the blend weight is uniform. Works on the device, no per-image Python.
    """
    count = batch.shape[0]
    device = batch.device
    draw = torch.rand(count, generator=generator, device="cpu").to(device)
    weight = torch.rand(count, generator=generator, device="cpu").to(device)
    ink = batch * std + mean  # back to [0, 1]
    dilated = torch.nn.functional.max_pool2d(ink, 3, stride=1, padding=1)
    eroded = -torch.nn.functional.max_pool2d(-ink, 3, stride=1, padding=1)
    grow = (draw < thicker).float() * weight
    shrink = ((draw >= thicker) & (draw < thicker + thinner)).float() * weight * 0.6
    grow, shrink = grow.view(-1, 1, 1, 1), shrink.view(-1, 1, 1, 1)
    changed = ink + grow * (dilated - ink) + shrink * (eroded - ink)
    return (changed - mean) / std


#: The slant range (degrees of horizontal shear) of the stroke augmentation.
STROKE_SHEAR_DEGREES = 15.0


def augment_batch(batch: torch.Tensor, generator: torch.Generator | None, affine: bool, strokes: bool) -> torch.Tensor:
    """The training augmentation of a normalised batch: `affine` (rotation, shift, scale), `strokes`
    (stroke width, and slant added to the affine warp)."""
    if affine or strokes:
        batch = random_affine(batch, generator, shear=STROKE_SHEAR_DEGREES if strokes else 0.0,
                              **({} if affine else {"degrees": 0.0, "translate": 0.0, "scale": (1.0, 1.0)}))  # fmt: skip
    if strokes:
        batch = random_stroke_width(batch, generator)
    return batch

