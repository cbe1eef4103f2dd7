"""Turning real-world images into MNIST-style inputs, as the MNIST authors prepared their digits.

Pure functions over numpy arrays and PIL images, no CLI. The pipeline: decode (first frame, EXIF
orientation, any mode), composite transparency so that ink living only in the alpha channel stays
ink, grayscale; find the ink (`ink.find_ink`: lighting flattened, polarity from the ink/background
split, threshold, ruled lines and specks removed) and group it into digits (`segment`: touching
digits cut apart, each `Prepared` saying so in `cut_from`), on a reduced copy of a large photo; then for each digit, cut its region from the original, scale the longest side
to 20 px keeping the aspect ratio (antialiased), and place the result in 28x28 with its centre of mass
at the centre. An image that is already an MNIST-style 28x28 digit passes through unchanged.

Reading one image is bounded whatever its content: only PNG, JPEG, BMP, GIF, TIFF and WebP are opened
(no other decoder runs), an image larger than any photo is first reduced by a whole factor in its own
8-bit bands (`FULL_SIZE_MAX_PIXELS`), floats are float32 (float64 only a block at a time), and a digit's
region is cut at a bounded size (`CUT_MAX_PIXELS`).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from . import image_ops
from ..errors import MnistError
from .context import context_view

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

#: Images with more pixels than this are refused before decoding (a decompression bomb).
MAX_PIXELS = 40_000_000
#: Images with a longer side than this are refused before decoding: JPEG's own limit, an aspect of more
#: than 100:1 within MAX_PIXELS, which no photo or scan of digits has; and Pillow keeps a pointer per
#: row, so that a 1 x 40,000,000 PNG took 2 s and 690 MB to decode.
MAX_SIDE = 65_535
#: Files larger than this are refused before decoding.
MAX_FILE_BYTES = 50 * 1024 * 1024
#: The formats opened, by Pillow's names: the documented ones. Pillow knows some 40 others (EPS runs
#: Ghostscript, PSD, ICO, ...), which are refused before any decoder runs.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
#: Formats Pillow cannot open at all, told by their first bytes so that the refusal names them.
OTHER_SIGNATURES = {b"%PDF": "PDF", b"<svg": "SVG", b"<?xml": "XML/SVG", b"PK\x03\x04": "ZIP"}
#: An image of more pixels than this is reduced by a whole factor (block means of its own 8-bit bands,
#: premultiplied by alpha) before any conversion to float, so that memory and time stay bounded. Above
#: every image of the real-world sets (phone photos up to 4000x3000, 12 MP, read at full size as
#: before) and a 16-megapixel phone's 4608x3456...
FULL_SIZE_MAX_PIXELS = 16_000_000
#: ...to at most this many pixels: the digit is located at 800 px a side (ink.WORK_SIDE) and drawn at
#: 20, so nothing the reading uses is lost (a 40-megapixel image is read at 2.5 MP, 1580 px a side).
REDUCED_MAX_PIXELS = 4_000_000
#: Converting to float (transparency composited, 16-bit and float images scaled), at most this many
#: pixels are held as float64 at a time (8 MB a band); every image of the real-world sets is one block.
GRAY_BLOCK_PIXELS = 1 << 18
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
#: A digit's region is cut at full resolution up to this many pixels and this long a side; a larger
#: one (a digit filling a large frame, a sliver 1 px wide) is cut from block means by a whole factor,
#: since fit_digit shrinks it to 20 px anyway (and the paper is interpolated to it through dense
#: side x 800 matrices). Above the largest region the real-world sets cut (3000 px and 3.3 MP: a page
#: edge along a 12 MP photo taken for the digit; their digits' regions are at most 0.25 MP).
CUT_MAX_PIXELS = 4_000_000
CUT_MAX_SIDE = 4096
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
    context: np.ndarray | None = None  # (32, 32) uint8: the image around the digit (`context.context_view`)


def decode(data: bytes, name: str = "<image>"):
    """Decode image bytes with PIL: first frame, EXIF orientation applied, size limits enforced.

    Only the FORMATS are opened; no other decoder of Pillow's runs.

    Raises:
        UnsupportedImageFormat: another format (EPS, PDF, PSD, ICO, ...).
        ImageError: empty, too large, a decompression bomb, truncated or not an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name}: empty file")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{name}: file too large ({len(data):,} bytes, at most {MAX_FILE_BYTES:,})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged tags: the file reads, or fails below
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{name}: refused: {width}x{height} pixels is more than {MAX_PIXELS:,} (a decompression bomb?)")
            if max(width, height) > MAX_SIDE:
                raise ImageError(f"{name}: refused: {width}x{height} pixels, a side longer than {MAX_SIDE:,}")
            image.load()  # the first frame: an animation's others are never decoded
            ImageOps.exif_transpose(image, in_place=True)  # in place: no full-size copy when upright
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({_first_line(exc)})") from None
    except UnidentifiedImageError:
        raise _unidentified(data, name) from None
    except Exception as exc:  # noqa: BLE001 - whatever a decoder raises on hostile bytes is a damaged file
        raise ImageError(f"{name}: truncated or damaged image ({_first_line(exc)})") from None
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{name}: image has no pixels")
    return image


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _unidentified(data: bytes, name: str) -> ImageError:
    """Why no opened format took `data`: damaged (its signature is one of FORMATS'), another format
    (UnsupportedImageFormat, named from Pillow's signature checks, which decode nothing), or no image."""
    from PIL import Image

    Image.init()
    prefix = data[:16]
    claimed = []
    for format_name, (_, accept) in Image.OPEN.items():
        try:
            if accept is not None and accept(prefix):
                claimed.append(format_name)
        except Exception:  # noqa: BLE001 - a signature check failing on odd bytes claims nothing
            continue
    ours = [format_name for format_name in claimed if format_name in FORMATS]
    if ours:
        return ImageError(f"{name}: truncated or damaged image (not a readable {ours[0]} file)")
    start = data[:1024].lstrip().lower()
    claimed += [format_name for signature, format_name in OTHER_SIGNATURES.items() if start.startswith(signature.lower())]
    if claimed:
        return UnsupportedImageFormat(f"{name}: unsupported image format ({claimed[0]}; only PNG, JPEG, BMP, GIF, TIFF and WebP are read)")
    return ImageError(f"{name}: not an image PIL can read")


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


#: Modes Image.reduce cannot average (a palette, bits, 16-bit) -> the mode they are reduced in.
_REDUCE_AS = {"1": "L", "P": "RGB", "PA": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I", "LAB": "RGB", "HSV": "RGB"}
_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def _reduced(image) -> tuple[PILImage, int]:
    """`image` itself and 1, or, when it has more than FULL_SIZE_MAX_PIXELS, reduced by the least whole
    factor that brings it to REDUCED_MAX_PIXELS and that factor. Block means of its own bands, in 8 bits
    (16-bit in 32), before any float."""
    width, height = image.size
    if width * height <= FULL_SIZE_MAX_PIXELS:
        return image, 1
    factor = max(2, math.isqrt(width * height // REDUCED_MAX_PIXELS))
    while -(-width // factor) * -(-height // factor) > REDUCED_MAX_PIXELS:
        factor += 1
    mode = _REDUCE_AS.get(image.mode, image.mode)
    if image.mode == "P" and "transparency" in image.info:
        mode = "RGBA"
    if image.mode == "La":
        mode = "LA"
    return _reduce_in_strips(image, mode, factor), factor


def _reduce_in_strips(image, mode: str, factor: int):
    """`image` in `mode`, reduced by `factor`, a strip of whole blocks at a time: what Image.reduce
    gives, without a full-size converted (or alpha-premultiplied) copy."""
    from PIL import Image

    width, height = image.size
    rows = max(1, GRAY_BLOCK_PIXELS // (width * factor)) * factor
    result = Image.new(mode, (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(height, top + rows)))
        result.paste((strip if strip.mode == mode else strip.convert(mode)).reduce(factor), (0, top // factor))
    return result


def _blocks(height: int, width: int):
    """Row slices of at most GRAY_BLOCK_PIXELS pixels (at least one row)."""
    rows = max(1, GRAY_BLOCK_PIXELS // max(1, width))
    return [slice(start, min(height, start + rows)) for start in range(0, height, rows)]


def _scaled_gray(image) -> np.ndarray:
    """A 16-bit, 32-bit or float image stretched to [0, 1] between its lowest and highest finite value."""
    values = np.asarray(image)
    finite = None
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        finite = np.isfinite(values)
        if not finite.any():
            raise ImageError("no digit found: the image has no finite values")
        low, high = float(values[finite].min()), float(values[finite].max())
    else:
        low, high = float(values.min()), float(values.max())
    gray = np.empty(values.shape, dtype=np.float32)
    for rows in _blocks(*values.shape):
        block = (values[rows].astype(np.float64) - low) / ((high - low) or 1.0)
        gray[rows] = block if finite is None else np.nan_to_num(np.clip(block, 0.0, 1.0), nan=0.0)
    return gray


def _composited_gray(image) -> np.ndarray:
    """Luminance of an image with transparency, composited so that ink stays ink (see `to_gray`).

    A block of rows at a time, from the image itself: no full-size RGBA or float64 copy is made.
    """
    if image.mode == "La":
        image = image.convert("LA")
    weights = np.array(LUMA_WEIGHTS)
    blocks = _blocks(image.height, image.width)

    def block_of(rows: slice) -> tuple[np.ndarray, np.ndarray]:  # (luminance, alpha) of the rows, float64
        part = image.crop((0, rows.start, image.width, rows.stop)).convert("RGBA")
        rgba = np.asarray(part, dtype=np.float64) / 255.0
        return rgba[..., :3] @ weights, rgba[..., 3]

    opaque_count = opaque_sum = 0.0
    for rows in blocks:
        lum, alpha = block_of(rows)
        opaque = alpha > 0.5
        opaque_count += int(opaque.sum())
        opaque_sum += float(lum[opaque].sum())
    if opaque_count == 0:
        raise ImageError("no digit found: the image is fully transparent")
    everywhere = opaque_count == image.width * image.height
    background = 1.0 if opaque_sum / opaque_count < 0.5 else 0.0  # opposite to the strokes' mean luminance
    gray = np.empty((image.height, image.width), dtype=np.float32)
    for rows in blocks:
        lum, alpha = block_of(rows)
        gray[rows] = lum if everywhere else lum * alpha + background * (1.0 - alpha)
    return gray


def to_gray(image) -> np.ndarray:
    """Any PIL image -> float32 luminance in [0, 1], transparency composited so ink stays ink.

    Transparent pixels are filled with the colour opposite to the opaque strokes: a drawing of black
    strokes on a transparent canvas becomes black on white, white strokes become white on black.
    16-bit, 32-bit and float images are stretched between their lowest and highest (finite) value.

    Raises:
        ImageError: fully transparent, no finite value, or a colour mode that has no luminance.
    """
    if image.mode in _HIGH_DEPTH:
        return _scaled_gray(image)
    if image.mode in _ALPHA or (image.mode == "P" and "transparency" in image.info):
        return _composited_gray(image)
    if image.mode == "CMYK":
        image = image.convert("RGB")
    try:
        luminance = image.convert("L")
    except ValueError:  # LAB and the like: through RGB
        try:
            luminance = image.convert("RGB").convert("L")
        except ValueError:
            raise ImageError(f"cannot read the colours of a {image.mode} image") from None
    gray = np.asarray(luminance, dtype=np.float32)
    gray /= np.float32(255.0)
    return gray


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


def _cut_step(height: int, width: int) -> int:
    """The least whole factor that brings a height x width region within CUT_MAX_PIXELS and CUT_MAX_SIDE
    (1: full resolution)."""
    step = max(1, -(-max(height, width) // CUT_MAX_SIDE))
    while -(-height // step) * -(-width // step) > CUT_MAX_PIXELS:
        step += 1
    return step


def digit_ink(found, labels: np.ndarray, group) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One digit's ink cut from the original image: (ink in [0, 1], (left, top, right, bottom)).

    The region is the group's box (work scale) mapped to the original with a small margin; only ink
    within two work pixels of the group's own components is kept, so neighbouring digits, ruled
    lines and specks stay out. Ink is its contrast scaled so the stroke core is 1. A region larger than
    CUT_MAX_PIXELS or CUT_MAX_SIDE is cut from block means by a whole factor (`_cut_step`).
    """
    f = found.factor
    height, width = found.gray.shape
    margin = INK_REACH
    top, bottom = max(0, (group.top - margin) * f), min(height, (group.bottom + margin) * f)
    left, right = max(0, (group.left - margin) * f), min(width, (group.right + margin) * f)
    step = _cut_step(bottom - top, right - left)
    row0, col0 = group.top - min(margin, group.top), group.left - min(margin, group.left)
    own = np.isin(labels[row0 : group.bottom + margin, col0 : group.right + margin], group.labels)
    own = image_ops.dilate(own, iterations=INK_REACH, square=True)
    rows = np.clip((top + step * np.arange(-(-(bottom - top) // step)) + step // 2) // f - row0, 0, own.shape[0] - 1)
    cols = np.clip((left + step * np.arange(-(-(right - left) // step)) + step // 2) // f - col0, 0, own.shape[1] - 1)
    keep = own[np.ix_(rows, cols)]
    if group.cut_from > 1:  # one of touching digits: only its own columns, not its neighbours' ink
        keep[:, : -(-max(0, group.left * f - left) // step)] = False
        keep[:, -(-max(0, group.right * f - left) // step) :] = False
    contrast = found.contrast_at(top, bottom, left, right, step)
    if f > step:
        contrast = image_ops.gaussian(contrast, FULL_SIZE_SMOOTHING * f / step)
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


def _prepared(found, labels, group, image, seen: int, factor: int) -> Prepared:
    """The Prepared of one group; its box in the pixels of `image`, read reduced by `factor`."""
    ink, (left, top, right, bottom) = digit_ink(found, labels, group)
    field = fit_digit(ink)
    width, height = image.size
    box = (left * factor, top * factor, min(width, right * factor), min(height, bottom * factor))
    context = context_view(found.gray, (left, top, right, bottom), found.dark_ink)
    return Prepared((field * 255).round().astype(np.uint8), found.dark_ink, False, image.size, box, seen, group.cut_from, context)


def _passthrough(gray: np.ndarray, image) -> Prepared:
    """An image that is already an MNIST-style input, as it is."""
    height, width = gray.shape
    return Prepared((gray * 255).round().astype(np.uint8), False, True, image.size, (0, 0, width, height), context=context_view(gray, (0, 0, width, height), False))


def _gray(image) -> tuple[np.ndarray, int]:
    """(luminance of `image`, reduced by `_reduced` when larger than FULL_SIZE_MAX_PIXELS; that factor).

    Raises:
        ImageError: also when PIL cannot convert the pixels (a lazily loaded file that is damaged).
    """
    try:
        small, factor = _reduced(image)
        return to_gray(small), factor
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"truncated or damaged image ({_first_line(exc)})") from None


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
        gray, factor = _gray(image)
        if is_mnist_style(gray):
            return _passthrough(gray, image)
        found, labels, groups = _locate(gray)
        main = max(groups, key=lambda g: g.mass)
        return _prepared(found, labels, main, image, len(groups), factor)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc.message}") from None


def prepare_number(image, name: str = "<image>") -> list[Prepared]:
    """A decoded PIL image of a row of digits -> one 28x28 input per digit, left to right.

    Raises:
        ImageError: no digit found or an unusable image.
    """
    try:
        gray, factor = _gray(image)
        if is_mnist_style(gray):
            return [prepare(image, name)]
        found, labels, groups = _locate(gray)
        return [_prepared(found, labels, group, image, len(groups), factor) for group in groups]
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
