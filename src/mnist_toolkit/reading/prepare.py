"""Turning real-world images into MNIST-style inputs, as the MNIST authors prepared their digits.

Pure functions over numpy arrays and PIL images, no CLI. The pipeline: decode (first frame, EXIF
orientation, any mode), composite transparency so that ink living only in the alpha channel stays
ink, grayscale; find the ink (`ink.find_ink`: lighting flattened, polarity from the ink/background
split, threshold, ruled lines and specks removed) and group it into digits (`segment`: touching
digits cut apart, each `Prepared` saying so in `cut_from`), on a reduced copy of a large photo; then for each digit, cut its region from the original, scale the longest side
to 20 px keeping the aspect ratio (antialiased), and place the result in 28x28 with its centre of mass
at the centre. An image that is already an MNIST-style 28x28 digit passes through unchanged.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from . import image_ops
from ..errors import MnistError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

#: Images with more pixels than this are refused before decoding (a decompression bomb).
MAX_PIXELS = 40_000_000
#: Files larger than this are refused before decoding.
MAX_FILE_BYTES = 50 * 1024 * 1024
DIGIT_BOX = 20  # the longest side of the digit inside the 28x28 field, as in MNIST
FIELD = 28
#: Luma weights of ITU-R BT.601, as PIL's "L" conversion, for images composited from RGBA.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

# An image that already is an MNIST-style digit (is_mnist_style, _border) passes through unchanged.
#: Luminance above this is ink, at most this the black background.
MNIST_BLACK = 0.1
#: The border strip whose median must be black is min(side) // MNIST_BORDER_DIVISOR wide (1 px of 28).
MNIST_BORDER_DIVISOR = 20
#: The ink fits in this box: DIGIT_BOX with a pixel of slack either side (none of MNIST's 60,000
#: training digits measures more than 20 at MNIST_BLACK), for a digit prepared a little differently...
MNIST_MAX_INK_BOX = 22
#: ...with its centre of mass at most this many pixels from the field's centre ("roughly centred").
MNIST_MAX_OFFSET = 2

# One digit's ink cut from the original (digit_ink).
#: Work pixels of reach: ink within this distance of the group's own components is kept (neighbouring
#: digits, ruled lines and specks stay out), and the region cut is the group's box widened by as much
#: so that all of that ink is inside it.
INK_REACH = 2
#: Gaussian sigma, in work pixels (times the reduction factor in original pixels), smoothing a reduced
#: photo's contrast at full resolution: sensor noise and JPEG blocks averaged, well under a work pixel
#: so that the strokes stay sharp. Empirical: it acts only on images larger than ink.WORK_SIDE, among
#: the real-world sets the phone photos.
FULL_SIZE_SMOOTHING = 0.35
#: The strokes' core level, mapped to ink 1, is this percentile of the strong ink's contrast: the
#: strongest quarter saturates, as the cores of MNIST's strokes do.
STROKE_CORE_PERCENTILE = 75
#: Contrast below this share of the low hysteresis threshold is paper (ink 0); between it and the core
#: the ink ramps up, so that the strokes' edges stay soft as in MNIST.
INK_FLOOR_OF_LOW = 0.5

# Fitting the digit into 28x28 (fit_digit).
#: The digit is cropped to the rows and columns with ink above this level (the core is 1): what
#: remains of paper texture and sensor noise around it is left out.
CROP_INK_LEVEL = 0.15
#: Shrinking below this scale, PIL first reduces by a whole factor to at least FAST_REDUCE_GAP times
#: the target size, then resamples with Lanczos: much faster for a large photo's digit, and from a gap
#: of 3.0 "indistinguishable from fair resampling in most cases" (PIL's documentation of reducing_gap).
FAST_REDUCE_BELOW = 0.5
FAST_REDUCE_GAP = 3.0


class ImageError(MnistError):
    """An image cannot be read or holds no digit."""

    default_hint = "use a PNG, JPEG, BMP, GIF, TIFF or WebP image of one digit"


class UnsupportedImageFormat(ImageError):
    """A file in a format the toolkit does not open (only PNG, JPEG, BMP, GIF, TIFF and WebP are)."""


@dataclass(frozen=True)
class Prepared:
    """A 28x28 uint8 digit, white on black, and what was done to get it."""

    image: np.ndarray  # (28, 28) uint8
    inverted: bool  # dark ink on light background was inverted
    passthrough: bool  # already MNIST-style; left as it was
    source_size: tuple[int, int]  # (width, height) of the decoded image
    box: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) of the digit in the source image
    digits_seen: int = 1  # digit-sized ink groups in a row in the image (more than 1: a number?)
    cut_from: int = 1  # more than 1: its ink touched other digits' and was cut into this many digits


def decode(data: bytes, name: str = "<image>"):
    """Decode image bytes with PIL: first frame, EXIF orientation applied, size limits enforced.

    Raises:
        ImageError: empty, too large, a decompression bomb, truncated or not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: file too large ({len(data):,} bytes, at most {MAX_FILE_BYTES:,})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{name}: refused: {width}x{height} pixels is more than {MAX_PIXELS:,} (a decompression bomb?)")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise ImageError(f"{name}: truncated or damaged image ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{name}: image has no pixels")
    return image


#: Bytes read at a time by `read_limited`: at most the cap plus one chunk is ever held.
READ_CHUNK = 1024 * 1024


def read_limited(stream, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a binary stream to its end, refusing it as soon as it passes `limit` bytes.

    At most `limit` plus one chunk is held in memory, so stdin or /dev/zero cannot exhaust it.

    Raises:
        ImageError: more than `limit` bytes.
    """
    chunks, size = [], 0
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise ImageError(f"{name}: file too large (more than {limit:,} bytes)")
        chunks.append(chunk)


def read_file(path: str | os.PathLike, name: str | None = None, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of an image file, read with `read_limited`; errors name the file, never a traceback.

    Raises:
        ImageError: missing, a folder, unreadable, or larger than `limit`.
    """
    path = Path(path)
    shown = name or str(path)
    try:
        with open(path, "rb") as stream:
            return read_limited(stream, shown, limit)
    except FileNotFoundError:
        raise ImageError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{shown}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(f"{shown}: cannot read: {exc.strerror or exc}") from None


def to_gray(image) -> np.ndarray:
    """Any PIL image -> float luminance in [0, 1], transparency composited so ink stays ink.

    Transparent pixels are filled with the colour opposite to the opaque strokes: a drawing of black
    strokes on a transparent canvas becomes black on white, white strokes become white on black.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        gray = (values - low) / ((high - low) or 1.0)
        return gray
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3]
        lum = rgba[..., :3] @ np.array(LUMA_WEIGHTS)
        opaque = alpha > 0.5
        if not opaque.any():
            raise ImageError("no digit found: the image is fully transparent")
        if opaque.all():
            return lum
        stroke = float(lum[opaque].mean())
        background = 1.0 if stroke < 0.5 else 0.0
        return lum * alpha + background * (1.0 - alpha)
    if image.mode == "CMYK":
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)


def _border(gray: np.ndarray) -> np.ndarray:
    width = max(1, min(gray.shape) // MNIST_BORDER_DIVISOR)
    return np.concatenate([gray[:width].ravel(), gray[-width:].ravel(), gray[:, :width].ravel(), gray[:, -width:].ravel()])


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) of the intensity-weighted centre, in pixel-centre coordinates (pixel i spans [i, i+1))."""
    total = float(image.sum())
    if total == 0:
        return image.shape[0] / 2, image.shape[1] / 2
    rows = np.arange(image.shape[0]) + 0.5
    cols = np.arange(image.shape[1]) + 0.5
    return float(rows @ image.sum(axis=1) / total), float(cols @ image.sum(axis=0) / total)


def fit_digit(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, scale the longest side to 20 px (antialiased), centre the mass in 28x28 -> float [0, 1]."""
    from PIL import Image

    rows, cols = np.flatnonzero(ink.max(axis=1) > CROP_INK_LEVEL), np.flatnonzero(ink.max(axis=0) > CROP_INK_LEVEL)
    if rows.size == 0:
        raise ImageError("no digit found: the image is blank or has too little contrast")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = Image.fromarray((crop * 255).astype(np.float32), mode="F").resize((new_w, new_h), Image.LANCZOS, reducing_gap=FAST_REDUCE_GAP if scale < FAST_REDUCE_BELOW else None)
    small = np.clip(np.asarray(resized, dtype=np.float64) / 255.0, 0.0, 1.0)
    field = np.zeros((FIELD, FIELD), dtype=np.float64)
    row0, col0 = (FIELD - new_h) // 2, (FIELD - new_w) // 2
    field[row0 : row0 + new_h, col0 : col0 + new_w] = small
    return shift_to_center(field)


def digit_ink(found, labels: np.ndarray, group) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One digit's ink cut from the original image: (ink in [0, 1], (left, top, right, bottom)).

    The region is the group's box (work scale) mapped to the original with a small margin; only ink
    within two work pixels of the group's own components is kept, so neighbouring digits, ruled
    lines and specks stay out. Ink is its contrast scaled so the stroke core is 1.
    """
    f = found.factor
    height, width = found.gray.shape
    margin = INK_REACH
    top, bottom = max(0, (group.top - margin) * f), min(height, (group.bottom + margin) * f)
    left, right = max(0, (group.left - margin) * f), min(width, (group.right + margin) * f)
    own = np.isin(labels[group.top - min(margin, group.top) : group.bottom + margin, group.left - min(margin, group.left) : group.right + margin], group.labels)
    own = image_ops.dilate(own, iterations=INK_REACH, square=True)
    rows = np.clip(np.arange(top, bottom) // f - (group.top - min(margin, group.top)), 0, own.shape[0] - 1)
    cols = np.clip(np.arange(left, right) // f - (group.left - min(margin, group.left)), 0, own.shape[1] - 1)
    keep = own[np.ix_(rows, cols)]
    if group.cut_from > 1:  # one of touching digits: only its own columns, not its neighbours' ink
        keep[:, : max(0, group.left * f - left)] = False
        keep[:, max(0, group.right * f - left) :] = False
    contrast = found.contrast_at(top, bottom, left, right)
    if f > 1:
        contrast = image_ops.gaussian(contrast, FULL_SIZE_SMOOTHING * f)
    strokes = contrast[keep & (contrast > found.high)]
    level = float(np.percentile(strokes, STROKE_CORE_PERCENTILE)) if strokes.size else found.peak
    floor = INK_FLOOR_OF_LOW * found.low
    ink = np.clip((contrast - floor) / max(level - floor, 1e-3), 0.0, 1.0) * keep
    return ink, (left, top, right, bottom)


def shift_to_center(field: np.ndarray) -> np.ndarray:
    """Translate by whole pixels so the centre of mass is within half a pixel of the field's centre.

    Whole-pixel shifts keep the digit's pixels as they are (and its box at most 20x20), as MNIST did.
    """
    com_row, com_col = center_of_mass(field)
    d_row, d_col = int(round(FIELD / 2 - com_row)), int(round(FIELD / 2 - com_col))
    if d_row == 0 and d_col == 0:
        return field
    moved = np.zeros_like(field)
    src_rows = slice(max(0, -d_row), min(FIELD, FIELD - d_row))
    dst_rows = slice(max(0, d_row), min(FIELD, FIELD + d_row))
    src_cols = slice(max(0, -d_col), min(FIELD, FIELD - d_col))
    dst_cols = slice(max(0, d_col), min(FIELD, FIELD + d_col))
    moved[dst_rows, dst_cols] = field[src_rows, src_cols]
    return moved


def is_mnist_style(gray: np.ndarray) -> bool:
    """28x28, dark background, ink inside a 20x20-ish box roughly centred: leave it as it is."""
    if gray.shape != (FIELD, FIELD):
        return False
    if float(np.median(_border(gray))) > MNIST_BLACK:
        return False
    mask = gray > MNIST_BLACK
    if not mask.any():
        return False
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows[-1] - rows[0] + 1 > MNIST_MAX_INK_BOX or cols[-1] - cols[0] + 1 > MNIST_MAX_INK_BOX:
        return False
    com_row, com_col = center_of_mass(gray)
    return abs(com_row - FIELD / 2) <= MNIST_MAX_OFFSET and abs(com_col - FIELD / 2) <= MNIST_MAX_OFFSET


def _locate(gray: np.ndarray):
    """find_ink + digit_groups; raises ImageError("no digit found ...") when there is none.

    When the strongest "ink" is a light paper patch on a darker ground (a sticky note on a table),
    the digits are looked for on the patch alone.
    """
    from .ink import find_ink, keep_only
    from .segment import digit_groups, in_row, paper_patch

    found = find_ink(gray)
    if found is None:
        raise ImageError("no digit found: the image is blank or has too little contrast")
    labels, groups = digit_groups(found.mask, found.contrast)
    if not groups:
        raise ImageError("no digit found: only specks or lines in the image")
    patch = None if found.dark_ink else paper_patch(labels, max(groups, key=lambda g: g.mass))
    if patch is not None:
        on_patch = find_ink(keep_only(gray, patch, found.factor))
        if on_patch is not None and on_patch.dark_ink:
            patch_labels, patch_groups = digit_groups(on_patch.mask, on_patch.contrast)
            if patch_groups:
                found, labels, groups = on_patch, patch_labels, patch_groups
    return found, labels, in_row(groups)


def _prepared(found, labels, group, image, seen: int) -> Prepared:
    ink, box = digit_ink(found, labels, group)
    field = fit_digit(ink)
    return Prepared((field * 255).round().astype(np.uint8), found.dark_ink, False, image.size, box, seen, group.cut_from)


#: What `open_image` takes: a file path, encoded image bytes, a PIL image, or a numpy array
#: ((H, W) gray, or (H, W, 3|4) RGB(A); uint8, or float in [0, 1]).
ImageLike = Union[str, os.PathLike, bytes, "PILImage", np.ndarray]


def open_image(image: ImageLike, name: str | None = None):
    """Any `ImageLike` -> a PIL image, decoded with the same limits as `decode`.

    Raises:
        ImageError: a missing or unreadable file, bytes that are not an image, or an unusable array.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode(bytes(image), name or "<bytes>")
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype != np.uint8:
            if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
                raise ImageError(f"{name or '<array>'}: unsupported array type {array.dtype}")
            array = (np.clip(array.astype(np.float64), 0.0, 1.0) * 255).round().astype(np.uint8) if np.issubdtype(array.dtype, np.floating) else np.clip(array, 0, 255).astype(np.uint8)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or 0 in array.shape:
            raise ImageError(f"{name or '<array>'}: expected an (H, W), (H, W, 3) or (H, W, 4) array, not {image.shape}")
        if array.size > MAX_PIXELS * (1 if array.ndim == 2 else array.shape[2]):
            raise ImageError(f"{name or '<array>'}: refused: more than {MAX_PIXELS:,} pixels")
        return Image.fromarray(np.ascontiguousarray(array))
    if isinstance(image, (str, os.PathLike)):
        return decode(read_file(image), name or str(image))
    raise ImageError(f"cannot read a {type(image).__name__} as an image", hint="pass a path, bytes, a PIL image or a numpy array")


def prepare(image, name: str = "<image>") -> Prepared:
    """A decoded PIL image of one digit -> the 28x28 uint8 input the model sees.

    When the image holds several digit-sized groups in a row, the one with the most ink is taken and
    `digits_seen` says how many there were.

    Raises:
        ImageError: no digit found (blank, lines only, specks) or an unusable image.
    """
    try:
        gray = to_gray(image)
        if is_mnist_style(gray):
            height, width = gray.shape
            return Prepared((gray * 255).round().astype(np.uint8), False, True, image.size, (0, 0, width, height))
        found, labels, groups = _locate(gray)
        main = max(groups, key=lambda g: g.mass)
        return _prepared(found, labels, main, image, len(groups))
    except ImageError as exc:
        raise ImageError(f"{name}: {exc.message}") from None


def prepare_number(image, name: str = "<image>") -> list[Prepared]:
    """A decoded PIL image of a row of digits -> one 28x28 input per digit, left to right.

    Raises:
        ImageError: no digit found or an unusable image.
    """
    try:
        gray = to_gray(image)
        if is_mnist_style(gray):
            return [prepare(image, name)]
        found, labels, groups = _locate(gray)
        return [_prepared(found, labels, group, image, len(groups)) for group in groups]
    except ImageError as exc:
        raise ImageError(f"{name}: {exc.message}") from None


def prepare_bytes(data: bytes, name: str = "<image>") -> Prepared:
    """Decode and prepare image bytes of one digit (see `decode` and `prepare`)."""
    return prepare(decode(data, name), name)


def prepare_number_bytes(data: bytes, name: str = "<image>") -> list[Prepared]:
    """Decode and prepare image bytes of a row of digits (see `decode` and `prepare_number`)."""
    return prepare_number(decode(data, name), name)


def naive(image) -> np.ndarray:
    """The naive path, for comparison: grayscale and resize to 28x28, nothing else."""
    from PIL import Image

    return np.asarray(image.convert("L").resize((FIELD, FIELD), Image.BILINEAR), dtype=np.uint8)
