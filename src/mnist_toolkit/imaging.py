"""Pictures of digits as PNG files: grids of 28x28 images with optional captions."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .files import atomic_write_bytes


def grid_image(images: np.ndarray, columns: int = 10, scale: int = 2, pad: int = 2):
    """Tile (N, H, W) uint8 images into one grayscale PIL image.

    Args:
        images: the images; white ink on black, as MNIST.
        columns: images per row.
        scale: each pixel becomes scale x scale pixels.
        pad: pixels of grey between tiles.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or images.size == 0:
        raise ConfigError(f"expected a non-empty stack of 2-D images, found shape {images.shape}")
    if images.dtype != np.uint8:
        low, high = float(images.min()), float(images.max())
        span = high - low or 1.0
        images = ((images.astype(np.float64) - low) / span * 255).round().astype(np.uint8)
    count, height, width = images.shape
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad), 96, dtype=np.uint8)
    for index in range(count):
        row, col = divmod(index, columns)
        top, left = pad + row * (height + pad), pad + col * (width + pad)
        canvas[top : top + height, left : left + width] = images[index]
    image = Image.fromarray(canvas, mode="L")
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image


def save_png(image, path: str | Path) -> Path:
    """Write a PIL image as PNG, atomically."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def save_grid(images: np.ndarray, path: str | Path, columns: int = 10, scale: int = 2) -> Path:
    """Write a PNG grid of images (see `grid_image`)."""
    return save_png(grid_image(images, columns=columns, scale=scale), path)
