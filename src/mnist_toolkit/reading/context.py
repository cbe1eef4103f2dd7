"""The context view: what lies around a digit's ink, for the "not a digit" detector.

The 28x28 input keeps only the chosen ink, scaled and centred, so a blob cut from a photo and a thick
digit can look alike there. The context view keeps what the 28x28 drops: the reading's luminance (so
transparency is composited and 16-bit or float images are scaled as the reading scales them) around
the ink's box (the box grown by its longer side on every side, edges repeated past the image), ink
bright (inverted when the ink is dark), its 1st to 99th percentile stretched to 0-255, resized to
`SIDE` x `SIDE`. Paper around a written digit, a table or a wall around a thing.
"""

from __future__ import annotations

import numpy as np

#: The context view's side in pixels.
SIDE = 32
#: The percentiles stretched to black and white, and the least spread stretched (a blank page stays dim).
LOW, HIGH, LEAST_SPREAD = 1, 99, 0.05
#: A window with a longer side than this is first reduced by a whole factor (block means): bounded work.
MAX_WINDOW_SIDE = 512


def context_view(gray: np.ndarray, box: tuple[int, int, int, int], dark_ink: bool) -> np.ndarray:
    """(SIDE, SIDE) uint8 view of `gray` ((H, W) luminance in [0, 1], as the reading makes it) around
    `box` (left, top, right, bottom in gray's pixels); `dark_ink`: the ink is darker than its ground
    (inverted here)."""
    from PIL import Image

    left, top, right, bottom = (int(v) for v in box)
    grow = max(right - left, bottom - top, 1)
    window = (left - grow, top - grow, right + grow, bottom + grow)
    height, width = gray.shape
    inside = (max(window[0], 0), max(window[1], 0), min(window[2], width), min(window[3], height))
    if inside[2] <= inside[0] or inside[3] <= inside[1]:
        return np.zeros((SIDE, SIDE), np.uint8)
    part = gray[inside[1] : inside[3], inside[0] : inside[2]]
    pads = [inside[1] - window[1], window[3] - inside[3], inside[0] - window[0], window[2] - inside[2]]
    factor = max(1, -(-max(window[2] - window[0], window[3] - window[1]) // MAX_WINDOW_SIDE))
    if factor > 1:  # block means of whole blocks (a strided view, no full-size copy); the pads scaled alike
        rows, columns = part.shape[0] // factor, part.shape[1] // factor
        if rows and columns:
            part = part[: rows * factor, : columns * factor].reshape(rows, factor, columns, factor).mean(axis=(1, 3))
        else:  # thinner than one block
            part = part.mean(keepdims=True)
        pads = [pad // factor for pad in pads]
    view = np.pad(np.asarray(part, np.float32), ((pads[0], pads[1]), (pads[2], pads[3])), mode="edge")
    if dark_ink:
        view = 1.0 - view
    low, high = np.percentile(view, (LOW, HIGH))
    view = np.clip((view - low) / max(float(high - low), LEAST_SPREAD), 0.0, 1.0)
    small = Image.fromarray((view * 255).astype(np.uint8)).resize((SIDE, SIDE), Image.BILINEAR)
    return np.asarray(small, np.uint8).copy()


def context_of_inputs(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 MNIST-style inputs -> (N, SIDE, SIDE) uint8: the view the reading gives an
    image that is already such an input (white ink on black, the whole image its box)."""
    images = np.asarray(images, np.uint8)
    views = [context_view(image.astype(np.float32) / 255.0, (0, 0, image.shape[1], image.shape[0]), False) for image in images]
    return np.stack(views) if views else np.zeros((0, SIDE, SIDE), np.uint8)
