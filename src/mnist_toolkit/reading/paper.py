"""The paper under the ink, estimated from the image itself: a smooth background by normalised
convolution (a coarse grid of Gaussian-weighted local planes fitted to the pixels not judged ink),
brought back to full size by separable bilinear interpolation (two small matrix products)."""

from __future__ import annotations

import numpy as np

from . import image_ops

#: Cells of the paper grid along the long side: coarse, so that a narrow crop filled by a thick stroke
#: is not taken for lighting; fine enough to follow a gradient, a vignette or a shadow.
PAPER_GRID_CELLS = 32
#: Gaussian sigma, in grid cells, of the neighbourhood each local paper plane is fitted to: about a
#: tenth of the long side, wide enough to reach past a stroke to paper, narrow enough for a shadow.
PAPER_SIGMA_CELLS = 3.0
#: Ridge on the plane's two slopes, times sigma**2 and the paper weight nearby: keeps the slope tame
#: where the paper nearby lies on one line (a strip of paper beside a thick stroke).
PAPER_SLOPE_RIDGE = 0.05
#: Below this Gaussian-weighted amount of paper near a cell (2 % of one cell's worth) no plane is
#: fitted there: inside a very thick stroke the paper's median stands in.
MIN_PAPER_WEIGHT = 0.02


def reduce(gray: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by an integer factor (the last partial rows and columns padded with their edge).

    A side shorter than the factor is one block (a sliver 1 px wide stays 1 px wide, unpadded).
    """
    if factor <= 1:
        return gray
    height, width = gray.shape
    row_factor, col_factor = min(factor, height), min(factor, width)
    pad_h, pad_w = (-height) % row_factor, (-width) % col_factor
    padded = np.pad(gray, ((0, pad_h), (0, pad_w)), mode="edge") if pad_h or pad_w else gray
    return padded.reshape(padded.shape[0] // row_factor, row_factor, padded.shape[1] // col_factor, col_factor).mean(axis=(1, 3))


def _interpolation_matrix(coords: np.ndarray, size: int) -> np.ndarray:
    """(len(coords), size) weights of linear interpolation at `coords`, edges held (mode "nearest")."""
    coords = np.clip(coords, 0, size - 1)
    low = np.minimum(np.floor(coords).astype(np.int64), max(size - 2, 0))
    frac = coords - low
    matrix = np.zeros((len(coords), size))
    index = np.arange(len(coords))
    matrix[index, low] = 1 - frac
    if size > 1:
        matrix[index, low + 1] += frac
    return matrix


def bilinear_at(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a 2-D grid at every (row, col) of the two coordinate axes, edges held:
    `ndimage.map_coordinates(grid, meshgrid(rows, cols), order=1, mode="nearest")`, computed as two small
    matrix products since the coordinates form a separable grid (a few ms instead of tens for a large frame)."""
    values = _interpolation_matrix(rows, grid.shape[0]) @ grid.astype(np.float64) @ _interpolation_matrix(cols, grid.shape[1]).T
    return values.astype(np.float32)


def smooth_background(gray: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    """The paper's luminance everywhere: a local plane fitted to the pixels not in `exclude`.

    Normalised convolution of the first order: around every cell of a grid of about 32 cells along
    the long side (so a narrow crop filled by a thick stroke is not taken for lighting), a plane is fitted by Gaussian-weighted least squares to the mean paper of the
    cells nearby (no weight outside the frame), so a lighting gradient is followed exactly up to the
    edges and corners; the grid is interpolated back, so the cost does not grow with the image.
    Where little paper is near (inside a very thick stroke) the fit falls back towards a plain
    weighted average, and where none is, to the paper's median.
    """
    weights = np.ones_like(gray, dtype=np.float32) if exclude is None else (~exclude).astype(np.float32)
    if weights.sum() < 1:
        weights[:] = 1.0
    cell = max(1, max(gray.shape) // PAPER_GRID_CELLS)
    counts = reduce(weights, cell).astype(np.float64)
    means = reduce(gray * weights, cell) / np.maximum(counts, 1e-9)
    fallback = float(np.median(gray[weights > 0]))
    coarse = _local_plane(means, counts, sigma=PAPER_SIGMA_CELLS, fallback=fallback)
    coarse = np.pad(coarse, 1, mode="reflect", reflect_type="odd")  # continue the plane half a cell past the edge
    rows = (np.arange(gray.shape[0]) + 0.5) / cell + 0.5
    cols = (np.arange(gray.shape[1]) + 0.5) / cell + 0.5
    return bilinear_at(coarse, rows, cols)


def _local_plane(means: np.ndarray, counts: np.ndarray, sigma: float, fallback: float) -> np.ndarray:
    """Value at each cell of the plane fitted by Gaussian-weighted least squares to `means` weighted by `counts`."""
    def blur(array: np.ndarray) -> np.ndarray:
        return image_ops.gaussian(array, sigma, zero_outside=True)

    ys, xs = np.mgrid[0 : means.shape[0], 0 : means.shape[1]].astype(np.float64)
    c, g = counts, means * counts
    s0, sy, sx = blur(c), blur(c * ys), blur(c * xs)
    syy, sxy, sxx = blur(c * ys * ys), blur(c * xs * ys), blur(c * xs * xs)
    t0, ty, tx = blur(g), blur(g * ys), blur(g * xs)
    # Moments about each cell itself (d = q - p), then the 3x3 normal equations per cell.
    m_y, m_x = sy - ys * s0, sx - xs * s0
    m_yy = syy - 2 * ys * sy + ys * ys * s0
    m_xx = sxx - 2 * xs * sx + xs * xs * s0
    m_xy = sxy - xs * sy - ys * sx + xs * ys * s0
    n_y, n_x = ty - ys * t0, tx - xs * t0
    ridge = PAPER_SLOPE_RIDGE * sigma**2 * s0
    matrix = np.stack([np.stack([s0, m_y, m_x], -1), np.stack([m_y, m_yy + ridge, m_xy], -1), np.stack([m_x, m_xy, m_xx + ridge], -1)], -2)
    target = np.stack([t0, n_y, n_x], -1)[..., None]
    enough = s0 > MIN_PAPER_WEIGHT
    values = np.full(means.shape, fallback)
    if enough.any():
        values[enough] = np.linalg.solve(matrix[enough], target[enough])[:, 0, 0]
    return values
