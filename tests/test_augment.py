"""The training augmentations: affine warp with slant, stroke width, and what `augment_batch` applies."""

from __future__ import annotations

import torch

from mnist_toolkit.data.resources import MNIST_MEAN, MNIST_STD
from mnist_toolkit.inference.torch_model import normalise
from mnist_toolkit.training.transforms import augment_batch, random_affine, random_stroke_width

BLACK = (0.0 - MNIST_MEAN) / MNIST_STD
WHITE = (1.0 - MNIST_MEAN) / MNIST_STD


def strokes(count: int = 16) -> torch.Tensor:
    """A normalised batch of upright bars, 2 px wide (a "1" in the middle of the field)."""
    images = torch.zeros((count, 28, 28), dtype=torch.uint8)
    images[:, 4:24, 13:15] = 255
    return normalise(images)


def ink(batch: torch.Tensor) -> torch.Tensor:
    return (batch * MNIST_STD + MNIST_MEAN).clamp(0, 1).sum(dim=(1, 2, 3))


def test_thicker_strokes_add_ink_and_thinner_remove_it():
    batch = strokes()
    thicker = random_stroke_width(batch, torch.Generator().manual_seed(0), thicker=1.0, thinner=0.0)
    thinner = random_stroke_width(batch, torch.Generator().manual_seed(0), thicker=0.0, thinner=1.0)
    assert (ink(thicker) >= ink(batch) - 1e-4).all() and (ink(thicker) > ink(batch) + 1).sum() >= 12
    assert (ink(thinner) <= ink(batch) + 1e-4).all() and (ink(thinner) < ink(batch) - 1).sum() >= 12
    for changed in (thicker, thinner):
        assert changed.min() >= BLACK - 1e-4 and changed.max() <= WHITE + 1e-4
        assert changed[:, :, :2, :].sub(BLACK).abs().max() < 1e-4  # the empty border stays empty
    unchanged = random_stroke_width(batch, torch.Generator().manual_seed(0), thicker=0.0, thinner=0.0)
    assert torch.allclose(unchanged, batch, atol=1e-5)


def test_stroke_width_is_reproducible_from_its_generator():
    batch = strokes()
    a = random_stroke_width(batch, torch.Generator().manual_seed(3))
    b = random_stroke_width(batch, torch.Generator().manual_seed(3))
    c = random_stroke_width(batch, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def _column_of_mass(rows: torch.Tensor) -> torch.Tensor:
    weights = (rows * MNIST_STD + MNIST_MEAN).clamp(0, 1)
    columns = torch.arange(28, dtype=torch.float32)
    return (weights * columns).sum(dim=(1, 2, 3)) / weights.sum(dim=(1, 2, 3))


def test_shear_slants_an_upright_bar():
    batch = strokes(32)
    slanted = random_affine(batch, torch.Generator().manual_seed(0), degrees=0.0, translate=0.0, scale=(1.0, 1.0), shear=20.0)
    lean = (_column_of_mass(slanted[:, :, 4:10]) - _column_of_mass(slanted[:, :, 18:24])).abs()
    assert lean.max() > 3 and (lean > 0.5).float().mean() > 0.6  # top and bottom of the bar moved apart
    upright = random_affine(batch, torch.Generator().manual_seed(0), degrees=0.0, translate=0.0, scale=(1.0, 1.0), shear=0.0)
    assert torch.allclose(upright, batch, atol=1e-4)


def test_augment_batch_applies_what_is_asked():
    batch = strokes()
    assert augment_batch(batch, torch.Generator().manual_seed(0), False, False) is batch
    affine = augment_batch(batch, torch.Generator().manual_seed(0), True, False)
    assert torch.equal(affine, random_affine(batch, torch.Generator().manual_seed(0)))  # the best preset's augmentation as before
    both = augment_batch(batch, torch.Generator().manual_seed(0), True, True)
    assert not torch.allclose(both, affine)
    only_strokes = augment_batch(batch, torch.Generator().manual_seed(0), False, True)
    assert not torch.allclose(only_strokes, batch)
    # without the affine part, nothing is moved: the bar's centre column stays
    assert (_column_of_mass(only_strokes) - _column_of_mass(batch)).abs().max() < 3
