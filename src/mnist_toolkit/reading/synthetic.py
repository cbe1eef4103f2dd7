"""Real-world-style renderings of MNIST digits, for measuring how `mnist predict` reads photos and drawings.

Each style turns a 28x28 MNIST digit into the encoded bytes of an image file a user could have made:
a photo of dark pen on light paper, off-centre in a large frame, with noise, in colour or grey, as JPEG
or PNG; or a drawing on a transparent web canvas where the ink lives only in the alpha channel.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np


def _enlarge(digit: np.ndarray, size: int):
    from PIL import Image

    return np.asarray(Image.fromarray(digit).resize((size, size), Image.BICUBIC), dtype=np.float64).clip(0, 255)


def _encode(array: np.ndarray, fmt: str, mode: str | None = None, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _paper_photo(digit: np.ndarray, rng: np.random.Generator, colour: bool) -> np.ndarray:
    """Dark ink on light, unevenly lit paper; the digit 3-5x larger, somewhere in a 320x240 frame."""
    size = int(rng.integers(84, 141))
    ink = _enlarge(digit, size) / 255.0
    height, width = 240, 320
    top, left = int(rng.integers(0, height - size)), int(rng.integers(0, width - size))
    yy, xx = np.mgrid[0:height, 0:width]
    light = 200 + 30 * (xx / width) + 15 * (yy / height)  # a lighting gradient
    paper = light.copy()
    darkness = rng.uniform(0.65, 0.9)
    paper[top : top + size, left : left + size] *= 1 - darkness * ink
    paper += rng.normal(0, 6, paper.shape)
    if colour:
        tint = np.array([1.0, rng.uniform(0.93, 1.0), rng.uniform(0.85, 0.97)])
        return (paper[..., None] * tint).clip(0, 255).astype(np.uint8)
    return paper.clip(0, 255).astype(np.uint8)


def photo_rgb_jpeg(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return _encode(_paper_photo(digit, rng, colour=True), "JPEG", quality=80)


def photo_gray_png(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    return _encode(_paper_photo(digit, rng, colour=False), "PNG")


def canvas_alpha_png(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Black strokes on a fully transparent 280x280 canvas: RGB is black everywhere, the ink is alpha."""
    size = int(rng.integers(120, 220))
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    top, left = int(rng.integers(0, 280 - size)), int(rng.integers(0, 280 - size))
    canvas[top : top + size, left : left + size, 3] = _enlarge(digit, size).astype(np.uint8)
    return _encode(canvas, "PNG", mode="RGBA")


STYLES: dict[str, Callable[[np.ndarray, np.random.Generator], bytes]] = {
    "photo, RGB JPEG": photo_rgb_jpeg,
    "photo, gray PNG": photo_gray_png,
    "canvas, alpha-only PNG": canvas_alpha_png,
}
