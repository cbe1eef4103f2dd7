"""The pixel operations of reading a real-world image: Gaussian blur, binary morphology, labelling.

OpenCV (`opencv-python-headless`) does the work; each function keeps the semantics of its
`scipy.ndimage` namesake (border handling, structuring elements, label order), which
`tests/test_image_ops.py` checks against scipy itself. OpenCV rather than scipy.ndimage because
`mnist predict` should start at once: importing `cv2` takes about 30 ms on the 2-core machines here,
importing `scipy.ndimage` about 200 ms (scipy 1.17 clones numpy's namespace, loading numpy.f2py and
numpy.testing, and rewrites 169 docstrings at import).
"""

from __future__ import annotations

import numpy as np

_SQUARE = np.ones((3, 3), np.uint8)
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


def _cv2():
    import cv2

    return cv2


def gaussian(array: np.ndarray, sigma: float, zero_outside: bool = False) -> np.ndarray:
    """`ndimage.gaussian_filter(array, sigma)` (truncate 4): mirrored edges, or zeros outside."""
    cv2 = _cv2()
    radius = int(4.0 * sigma + 0.5)
    border = cv2.BORDER_CONSTANT if zero_outside else cv2.BORDER_REFLECT
    source = np.ascontiguousarray(array, dtype=np.float64 if array.dtype == np.float64 else np.float32)
    return cv2.GaussianBlur(source, (2 * radius + 1, 2 * radius + 1), sigmaX=sigma, sigmaY=sigma, borderType=border)


def dilate(mask: np.ndarray, iterations: int = 1, square: bool = False) -> np.ndarray:
    """`ndimage.binary_dilation`: a 3x3 cross (or square) applied `iterations` times; nothing outside."""
    kernel = _SQUARE if square else _CROSS
    return _cv2().dilate(mask.astype(np.uint8), kernel, iterations=iterations) > 0


def erode(mask: np.ndarray, iterations: int = 1, square: bool = False) -> np.ndarray:
    """`ndimage.binary_erosion` (border value 0: pixels on the frame's edge are eroded too)."""
    cv2 = _cv2()
    kernel = _SQUARE if square else _CROSS
    return cv2.erode(mask.astype(np.uint8), kernel, iterations=iterations, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def opening_1d(mask: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Where a run of at least `size` set pixels along `axis` passes: `maximum_filter1d(minimum_filter1d(...))`."""
    cv2 = _cv2()
    shape = (size, 1) if axis == 0 else (1, size)  # rows x columns of the structuring element
    kernel = np.ones(shape, np.uint8)
    return cv2.dilate(cv2.erode(mask.astype(np.uint8), kernel), kernel) > 0


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """`ndimage.binary_fill_holes`: background not 4-connected to the frame's edge becomes set."""
    cv2 = _cv2()
    padded = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(padded, None, (0, 0), 2, flags=4)
    return padded[1:-1, 1:-1] != 2


def label(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """8-connected components, numbered 1..count in raster order of their first pixel (as `ndimage.label`).

    Returns:
        labels (H, W) int32 with 0 for background, count, and stats (count, 5): left, top, width,
        height, area of each component (row k-1 for label k).
    """
    cv2 = _cv2()
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask.astype(np.uint8), 8, cv2.CV_32S, cv2.CCL_SAUF)
    return labels, count - 1, stats[1:]


def sum_labels(values: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Sum of `values` over each label 1..count (`ndimage.sum_labels`)."""
    return np.bincount(labels.ravel(), weights=values.ravel(), minlength=count + 1)[1:]
