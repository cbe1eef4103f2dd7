"""image_ops (OpenCV) keeps the semantics of the scipy.ndimage operations it replaces: checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnist_toolkit.reading import image_ops

SHAPES = [(1, 1), (1, 9), (7, 1), (5, 6), (40, 33), (257, 301), (520, 430)]


def _masks(shape, seed):
    rng = np.random.default_rng(seed)
    for density in (0.05, 0.3, 0.6):
        yield rng.random(shape) < density


@pytest.mark.parametrize("shape", SHAPES)
def test_label_matches_scipy_including_order(shape):
    for mask in _masks(shape, 1):
        expected, expected_count = ndimage.label(mask, structure=np.ones((3, 3)))
        labels, count, stats = image_ops.label(mask)
        assert count == expected_count
        np.testing.assert_array_equal(labels, expected)
        for k, box in enumerate(ndimage.find_objects(expected)):
            left, top, width, height, area = stats[k]
            assert (top, top + height, left, left + width) == (box[0].start, box[0].stop, box[1].start, box[1].stop)
            assert area == np.count_nonzero(expected == k + 1)
        values = np.random.default_rng(2).random(shape)
        np.testing.assert_allclose(image_ops.sum_labels(values, labels, count), ndimage.sum_labels(values, expected, np.arange(1, count + 1)))


def test_label_of_an_empty_mask():
    labels, count, stats = image_ops.label(np.zeros((30, 40), bool))
    assert count == 0 and not labels.any() and stats.shape == (0, 5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("iterations", [1, 2])
def test_morphology_matches_scipy(shape, iterations):
    for mask in _masks(shape, 3):
        for square, structure in ((False, None), (True, np.ones((3, 3)))):
            np.testing.assert_array_equal(image_ops.dilate(mask, iterations, square), ndimage.binary_dilation(mask, structure, iterations))
            np.testing.assert_array_equal(image_ops.erode(mask, iterations, square), ndimage.binary_erosion(mask, structure, iterations))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 8, 25])
def test_opening_1d_matches_min_then_max_filter(shape, size):
    for mask in _masks(shape, 4):
        for axis in (0, 1):
            m = mask.astype(np.uint8)
            expected = ndimage.maximum_filter1d(ndimage.minimum_filter1d(m, size, axis=axis), size, axis=axis) > 0
            np.testing.assert_array_equal(image_ops.opening_1d(mask, size, axis), expected)


@pytest.mark.parametrize("shape", SHAPES)
def test_fill_holes_matches_scipy(shape):
    for mask in _masks(shape, 5):
        np.testing.assert_array_equal(image_ops.fill_holes(mask), ndimage.binary_fill_holes(mask))
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7] = True
    ring[3:6, 3:6] = False
    assert image_ops.fill_holes(ring)[4, 4] and not image_ops.fill_holes(ring)[0, 0]


@pytest.mark.parametrize("shape", [(1, 1), (3, 40), (40, 33), (300, 257)])
@pytest.mark.parametrize("sigma", [0.35, 0.7, 1.4, 3.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_matches_scipy(shape, sigma, dtype):
    values = np.random.default_rng(6).random(shape).astype(dtype)
    for zero_outside in (False, True):
        mode = {"mode": "constant", "cval": 0.0} if zero_outside else {}
        got = image_ops.gaussian(values, sigma, zero_outside=zero_outside)
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_allclose(got, ndimage.gaussian_filter(values, sigma, **mode), atol=2e-6 if dtype == np.float32 else 1e-12)
