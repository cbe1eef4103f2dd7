"""Realistic "real-world" digit images, for measuring how well `mnist predict` reads what users photograph.

Each sample is generated in memory as the bytes of an encoded image file (JPEG or PNG) with its label;
nothing is written to disk except by `--preview`. The sets:

- "phone photos": one MNIST digit in pen on paper, photographed with a phone: 1600x1200, 3264x2448 or
  4000x3000 frames, landscape or portrait; the digit's height 4-12 % of the frame's, anywhere in it;
  uneven light (gradient, vignette, sometimes a shadow), sensor noise, a colour cast, JPEG 70-92; some
  on ruled paper (sometimes with a red margin line), some on a yellow sticky note lying on a desk, some
  with the page edge and the table showing along one side.
- "tight crops, thick strokes": one MNIST digit cropped to its ink so that strokes touch the edges,
  thickened as by a felt pen or softened as by a low-resolution scan, 60-400 px on the long side;
  a quarter light ink on dark (a chalkboard, an inverted scan).
- "form boxes, 64 px": one thick MNIST digit filling a 64x64 box of a form top to bottom (ink touching
  the top and bottom edges, up to a pixel cut off), scanned at 14-24 px and enlarged, on white or grey paper.
- "other writers": digits not from MNIST, drawn by a stroke model (2-3 styles per digit, jittered,
  slanted, narrow or wide, thin or bold strokes), so their shapes are not those of MNIST's writers.
- "numbers": a row of 2-10 separated MNIST digits, as a number written on paper; the label is the string.
- "mnist on paper" and "canvas alpha": the renderers of `mnist_toolkit.reading.synthetic` (a 320x240 RGB JPEG
  photo; a transparent canvas with the ink only in alpha): sets that already read well.

Builders use only the digits passed to them: develop the preprocessing with `--split train`, report the
numbers measured with the default `--split test`.

Usage: poetry run python benchmarks/realworld_sets.py [--set NAME ...] [--count N] [--seed S] [--preview DIR]
"""

from __future__ import annotations

import argparse
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from mnist_toolkit.data.source import load_split, resolve_source
from mnist_toolkit.reading.synthetic import STYLES


@dataclass(frozen=True)
class Sample:
    data: bytes  # encoded image file (JPEG or PNG)
    label: str  # the digit(s) written, e.g. "7" or "2026"
    kind: str  # short description of the variant, e.g. "4000x3000 jpeg, ruled, sticky note"
    sources: tuple = ()  # the MNIST 28x28 digit(s) it was made from, left to right (none for other writers)


Builder = Callable[[np.random.Generator, np.ndarray, np.ndarray, int], list[Sample]]

PAPERS = {"white": (0.95, 0.95, 0.94), "cream": (0.96, 0.93, 0.84), "yellowish": (0.95, 0.92, 0.74)}
INK_HUES = {"black": (1.0, 1.0, 1.0), "dark blue": (0.55, 0.7, 1.5), "dark gray": (1.0, 1.0, 1.0)}
FRAMES = [(1600, 1200), (3264, 2448), (4000, 3000)]
FRAME_ODDS = [0.6, 0.23, 0.17]


def _encode(pixels: np.ndarray, fmt: str, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)


def _ink_box(alpha: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels above threshold, bottom and right exclusive."""
    rows, cols = np.flatnonzero((alpha > threshold).any(1)), np.flatnonzero((alpha > threshold).any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _pen(digit: np.ndarray, size: int, blur: float) -> np.ndarray:
    """The 28x28 digit enlarged smoothly to size x size as pen-like ink coverage in [0, 1].

    Blurring by half a pixel of the 28x28 grid and then raising the contrast gives smooth, crisp strokes
    of about the width of the original ones, instead of the grid's staircase."""
    big = Image.fromarray(digit).resize((size, size), Image.BICUBIC).filter(ImageFilter.GaussianBlur(size / 50))
    crisp = Image.fromarray(_to_uint8((np.asarray(big, dtype=np.float32) - 70) * (255 / 100)))
    if blur > 0:
        crisp = crisp.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(crisp, dtype=np.float32) / 255


def _lighting(height: int, width: int, rng: np.random.Generator, max_drop: float, shadow: bool) -> np.ndarray:
    """A smooth brightness field in [1 - max_drop, 1]: linear gradient, vignette, maybe a soft shadow."""
    h, w = max(2, height // 16), max(2, width // 16)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    y, x = y / (h - 1) - 0.5, x / (w - 1) - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    field = 1 + rng.uniform(0.05, 0.35) * (np.cos(angle) * x + np.sin(angle) * y)
    field *= 1 - rng.uniform(0, 0.3) * (x * x + y * y) * 2
    if shadow:
        cy, cx, spread = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.1, 0.3)
        field *= 1 - rng.uniform(0.15, 0.3) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * spread**2))
    field /= field.max()
    drop = 1 - field.min()
    if drop > max_drop:
        field = 1 - (1 - field) * (max_drop / drop)
    return np.asarray(Image.fromarray(field.astype(np.float32)).resize((width, height), Image.BILINEAR))


def _ink(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """An ink colour as a fraction of the paper's colour underneath, per channel: darkness 0.6-0.95."""
    name = str(rng.choice(list(INK_HUES), p=[0.5, 0.3, 0.2]))
    darkness = rng.uniform(0.6, 0.75) if name == "dark gray" else rng.uniform(0.7, 0.95)
    return name, np.minimum((1 - darkness) * np.array(INK_HUES[name], np.float32), 0.9)


def _tint(rng: np.random.Generator) -> np.ndarray:
    """A camera's colour cast: warm most of the time, sometimes cool."""
    if rng.random() < 0.7:
        return np.array([1.0, rng.uniform(0.94, 1.0), rng.uniform(0.84, 0.97)], np.float32)
    return np.array([rng.uniform(0.9, 0.98), rng.uniform(0.96, 1.0), 1.0], np.float32)


def _ruled(width: int, height: int, spacing: float, thickness: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage (uint8, 255 = full) of horizontal ruled lines, slightly tilted as in a photo."""
    mask = Image.new("L", (width, height))
    draw = ImageDraw.Draw(mask)
    slope, y = math.tan(math.radians(rng.uniform(-1.5, 1.5))), rng.uniform(0, spacing)
    for start in np.arange(y - abs(slope) * width, height + abs(slope) * width, spacing):
        draw.line([(0, start), (width, start + slope * width)], fill=255, width=thickness)
    return np.asarray(mask.filter(ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1])))


def _shade(pixels: np.ndarray, cover: np.ndarray, hue: np.ndarray) -> None:
    """Darken pixels in place by cover / 255 * hue per channel, touching only the covered ones (thin lines)."""
    ys, xs = np.nonzero(cover)
    pixels[ys, xs] *= 1 - cover[ys, xs, None] * (hue / 255)


def _polygon(points: np.ndarray, box: tuple[int, int, int, int], blur: float) -> np.ndarray:
    """Coverage in [0, 1] of a filled polygon inside box (top, bottom, left, right)."""
    top, bottom, left, right = box
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).polygon([(x - left, y - top) for x, y in points], fill=255)
    return np.asarray(mask.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) / 255


def _on_paper(alpha: np.ndarray, rng: np.random.Generator, ruled: float | None = None) -> tuple[np.ndarray, str]:
    """Ink coverage in [0, 1] as dark ink on light, unevenly lit, noisy paper; RGB or grey uint8."""
    height, width = alpha.shape
    paper_name = str(rng.choice(list(PAPERS)))
    ink_name, ink = _ink(rng)
    refl = np.empty((height, width, 3), np.float32)
    refl[:] = np.array(PAPERS[paper_name], np.float32) * _tint(rng)
    kind = f"{paper_name} paper, {ink_name} ink"
    if ruled is not None:  # the spacing of ruled lines
        lines = _ruled(width, height, ruled, int(rng.integers(1, 3)), rng)
        _shade(refl, lines, rng.uniform(0.08, 0.18) * np.array([0.9, 0.5, 0.1], np.float32))
        kind += ", ruled"
    refl *= 1 - alpha[..., None] * (1 - ink)
    refl *= (_lighting(height, width, rng, 0.25, False) * rng.uniform(200, 250))[..., None]
    refl += rng.normal(0, rng.uniform(2, 7), (height, width, 1)).astype(np.float32)
    if rng.random() < 0.3:
        return _to_uint8(refl.mean(2)), kind + ", gray"
    return _to_uint8(refl), kind


def _sample(made: tuple[bytes, str], label: object, sources: tuple = ()) -> Sample:
    return Sample(made[0], str(label), made[1], sources)


def _save(pixels: np.ndarray, rng: np.random.Generator, png_odds: float = 0.4) -> tuple[bytes, str]:
    if rng.random() < png_odds:
        return _encode(pixels, "PNG"), "png"
    quality = int(rng.integers(75, 96))
    return _encode(pixels, "JPEG", quality), f"jpeg q{quality}"


def _phone_photo(digit: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """One MNIST digit in pen on paper or a sticky note, photographed with a phone (1600x1200 to 12 MP)."""
    width, height = FRAMES[rng.choice(len(FRAMES), p=FRAME_ODDS)]
    if rng.random() < 0.35:
        width, height = height, width
    px = max(width, height) / 1600  # pixels per pixel of a 1600-wide frame
    top0, bottom0, _, _ = _ink_box(digit.astype(np.float32), 40)
    size = round(rng.uniform(0.04, 0.12) * height * 28 / (bottom0 - top0))
    margin = round(0.03 * min(width, height))
    tint = _tint(rng)
    paper_name = str(rng.choice(list(PAPERS)))
    paper = np.array(PAPERS[paper_name], np.float32) * tint
    refl = np.empty((height, width, 3), np.float32)
    kinds: list[str] = []
    if rng.random() < 0.25:  # a yellow sticky note on a desk; the digit on the note
        side = round(size * rng.uniform(1.2, 1.6))
        ny, nx = (int(rng.integers(margin, extent - side - margin)) for extent in (height, width))
        top, left = ny + int(rng.integers(0, side - size + 1)), nx + int(rng.integers(0, side - size + 1))
        turn = math.radians(rng.uniform(-6, 6))
        centre, half = np.array([nx + side / 2, ny + side / 2]), side / 2
        corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
        corners = centre + corners @ np.array([[math.cos(turn), math.sin(turn)], [-math.sin(turn), math.cos(turn)]])
        pad = side // 5
        box = (max(0, ny - pad), min(height, ny + side + pad), max(0, nx - pad), min(width, nx + side + pad))
        area = _polygon(corners, box, 0.7 * px)
        desk = np.full(3, rng.uniform(0.5, 0.75) if rng.random() < 0.6 else rng.uniform(0.8, 0.9)) * tint
        note = np.array([0.98, rng.uniform(0.9, 0.95), rng.uniform(0.42, 0.62)], np.float32) * tint
        refl[:] = desk
        refl[box[0] : box[1], box[2] : box[3]] = desk + area[..., None] * (note - desk)
        kinds.append("sticky note on a desk")
    else:
        top, left = (int(rng.integers(margin, extent - size - margin)) for extent in (height, width))
        box, area = (0, height, 0, width), None
        refl[:] = paper
        kinds.append(f"{paper_name} paper")
    if rng.random() < 0.5:  # ruled lines, on the page or on the note
        spacing, thickness = rng.uniform(0.03, 0.06) * height, max(1, round(rng.uniform(1, 3) * px))
        lines = _ruled(box[3] - box[2], box[1] - box[0], spacing, thickness, rng)
        blue = rng.random() < 0.7
        hue = np.array([0.9, 0.5, 0.1] if blue else [1.0, 1.0, 1.0], np.float32) * rng.uniform(0.08, 0.2)
        lines = lines if area is None else (lines * area).astype(np.uint8)
        _shade(refl[box[0] : box[1], box[2] : box[3]], lines, hue)
        kinds.append("ruled " + ("blue" if blue else "grey"))
        if area is None and left > 0.1 * width and rng.random() < 0.4:  # a red margin line left of the digit
            x = rng.uniform(0.05, min(0.25, left / width - 0.03)) * width
            band = slice(int(x), int(x + max(1, 2 * px)) + 1)
            refl[:, band] *= 1 - rng.uniform(0.15, 0.3) * np.array([0.1, 0.8, 0.7], np.float32)
            kinds.append("margin line")
    if area is None and rng.random() < 0.25:  # the page edge, the table beyond it, on the side with most room
        free = {"left": left, "right": width - left - size, "top": top, "bottom": height - top - size}
        side = max(free, key=free.get)
        along, depth = (height, width) if side in ("left", "right") else (width, height)
        depth = min(free[side] * rng.uniform(0.3, 0.7), 0.2 * depth)
        edge = depth * rng.uniform(0.5, 1) + depth * rng.uniform(-0.5, 0) * np.linspace(0, 1, along)[:, None]
        cover = np.clip((edge - np.arange(int(depth) + 2)) / (1.5 * px) + 0.5, 0, 1).astype(np.float32)
        cover = cover if side in ("left", "right") else cover.T
        cover = cover if side in ("left", "top") else cover[::-1, ::-1]  # along the edge, flipping changes nothing
        region = refl[{"left": np.s_[:, : cover.shape[1]], "right": np.s_[:, -cover.shape[1] :],
                       "top": np.s_[: cover.shape[0]], "bottom": np.s_[-cover.shape[0] :]}[side]]
        table = np.array([0.35, 0.25, 0.17] if rng.random() < 0.5 else [0.25] * 3, np.float32) * tint
        region += cover[..., None] * (table - region)
        kinds.append(f"page edge {side}")
    ink_name, ink = _ink(rng)
    alpha = _pen(digit, size, rng.uniform(0.4, 1.0) * px)
    refl[top : top + size, left : left + size] *= 1 - alpha[..., None] * (1 - ink)
    shadow = rng.random() < 0.25
    refl *= (_lighting(height, width, rng, 0.4, shadow) * rng.uniform(190, 245))[..., None]
    refl += (rng.standard_normal((height, width), dtype=np.float32) * rng.uniform(2, 6))[..., None]
    quality = int(rng.integers(70, 93))
    kinds = [f"{width}x{height} jpeg q{quality}", *kinds, f"{ink_name} ink"] + (["shadow"] if shadow else [])
    return _encode(_to_uint8(refl), "JPEG", quality), ", ".join(kinds)


def _dilate(alpha: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation by a flat disc of the given radius in pixels."""
    reach, (height, width) = int(radius), alpha.shape
    padded, out = np.pad(alpha, reach), alpha.copy()
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if dy * dy + dx * dx <= radius * radius:
                np.maximum(out, padded[reach + dy : reach + dy + height, reach + dx : reach + dx + width], out=out)
    return out


def _hole_area(alpha: np.ndarray) -> int:
    """Pixels of background enclosed by ink (the loops of 0, 4, 6, 8, 9), at coverage 0.5."""
    mask = Image.fromarray(np.pad((alpha > 0.5).astype(np.uint8) * 255, 1)).copy()  # a copy: fill in place
    ImageDraw.floodfill(mask, (0, 0), 128)
    return int((np.asarray(mask) == 0).sum())


def _tight_crop(digit: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """One MNIST digit cropped to its ink, strokes thickened or blurred; a quarter light ink on dark."""
    long_side = int(rng.integers(60, 401))
    style = str(rng.choice(["thick", "low-res", "plain"], p=[0.55, 0.3, 0.15]))
    scale, kind = 4, "plain"  # working pixels per 28x28 grid pixel
    alpha = _pen(digit, 28 * scale, 0)
    if style != "plain":  # thicker, but never so thick that the loops close
        radius = rng.uniform(1, 2) if style == "thick" else rng.uniform(0.5, 1)
        holes = max(_hole_area(alpha), _hole_area(_dilate(alpha, 0.5 * scale)))  # a loop with a small gap counts
        thick = _dilate(alpha, radius * scale)
        while radius > 0.5 and _hole_area(thick) < 0.35 * holes:
            radius -= 0.25
            thick = _dilate(alpha, radius * scale)
        alpha, kind = thick, f"strokes +{radius:.2f} px"
    margin = rng.uniform(-1, 1)  # at 28 px scale; negative cuts into the strokes
    top, bottom, left, right = (v * 1.0 for v in _ink_box(alpha, 0.25))
    reach, edge = margin * scale, 28.0 * scale
    box = (max(0, left - reach), max(0, top - reach), min(edge, right + reach), min(edge, bottom + reach))
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    long_side = max(long_side, 80) if style == "low-res" else long_side
    zoom = long_side / max(box_width, box_height)  # output pixels per working pixel
    size = (max(2, round(box_width * zoom)), max(2, round(box_height * zoom)))
    if style == "low-res":  # a felt pen or a low-resolution scan: few pixels, enlarged bilinearly
        n = int(rng.integers(14, 21))
        few = (max(2, round(box_width * n / 28)), max(2, round(box_height * n / 28)))
        small = Image.fromarray(_to_uint8(alpha * 255)).resize(few, Image.BOX, box=box)
        big = small.resize(size, Image.BILINEAR).filter(ImageFilter.GaussianBlur(0.2 * zoom * scale * 28 / n))
        kind += f", low-res {n} px"
    else:
        big = Image.fromarray(_to_uint8(alpha * 255)).resize(size, Image.BICUBIC, box=box)
        big = big.filter(ImageFilter.GaussianBlur(0.5))
    alpha = np.asarray(big, np.float32) / 255
    kind = f"{size[0]}x{size[1]}, margin {margin:+.1f} px, {kind}"
    if rng.random() < 0.75:
        pixels, paper_kind = _on_paper(alpha, rng)
        kind += ", " + paper_kind
    elif rng.random() < 0.5:  # chalk on a green-grey board
        board = np.array([0.2, 0.28, 0.24], np.float32) * rng.uniform(0.6, 1.2)
        chalk = alpha * (1 - 0.35 * rng.random(alpha.shape, dtype=np.float32))
        pixels = board + chalk[..., None] * (rng.uniform(0.75, 0.95) - board)
        pixels *= (_lighting(*alpha.shape, rng, 0.2, False) * 255)[..., None]
        pixels += rng.normal(0, 4, pixels.shape).astype(np.float32)
        pixels, kind = _to_uint8(pixels), kind + ", chalkboard"
    else:  # an inverted scan: white ink on black
        pixels = rng.uniform(0, 25) + alpha * rng.uniform(190, 240) + rng.normal(0, 3, alpha.shape)
        pixels, kind = _to_uint8(pixels.astype(np.float32)), kind + ", inverted scan"
    data, fmt = _save(pixels, rng)
    return data, f"{fmt}, {kind}"


def _form_box(digit: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """One thick MNIST digit filling a 64x64 crop of a form's box, scanned at low resolution and enlarged.

    The digit's height fills the frame, so that ink touches the top and bottom edges (up to a pixel cut
    off), its width sits anywhere across it; strokes as thick as a felt pen's (loops kept open), the box
    scanned at 14-24 pixels a side and enlarged bilinearly to 64 with a soft blur, on white or grey paper.
    """
    scale = 4  # working pixels per 28x28 grid pixel
    alpha = _pen(digit, 28 * scale, 0)
    radius = rng.uniform(1.0, 2.0)
    holes = max(_hole_area(alpha), _hole_area(_dilate(alpha, 0.5 * scale)))
    thick = _dilate(alpha, radius * scale)
    while radius > 0.5 and _hole_area(thick) < 0.35 * holes:  # thick, but the loops stay open
        radius -= 0.25
        thick = _dilate(alpha, radius * scale)
    top, bottom, left, right = _ink_box(thick, 0.25)
    margin = rng.uniform(-1.0, 0.3) * scale  # at 28 px scale: negative cuts into the top and bottom strokes
    side = bottom - top + 2 * margin  # the square box's side, in working pixels
    slack = side - (right - left)  # room across; a wide digit is cut at the sides too
    x0 = left - (rng.uniform(0, slack) if slack > 0 else slack / 2)
    pad = 28 * scale  # blank paper around the canvas, so that the box may reach beyond it
    box = (pad + x0, pad + top - margin, pad + x0 + side, pad + top - margin + side)
    canvas = Image.fromarray(_to_uint8(np.pad(thick, pad) * 255))
    n = int(rng.integers(14, 25))
    small = canvas.resize((n, n), Image.BOX, box=box)  # the low-resolution scan (paper beyond the canvas is blank)
    big = small.resize((64, 64), Image.BILINEAR).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    alpha = np.asarray(big, np.float32) / 255
    paper = rng.uniform(0.75, 0.97)
    ink = rng.uniform(0.05, 0.3)
    pixels = 255 * (paper + alpha * (ink - paper)) + rng.normal(0, rng.uniform(1, 5), alpha.shape)
    kind = f"strokes +{radius:.2f} px, margin {margin / scale:+.1f} px, scan {n} px, paper {paper:.2f}, ink {ink:.2f}"
    data, fmt = _save(_to_uint8(pixels.astype(np.float32)), rng, png_odds=0.5)
    return data, f"{fmt}, {kind}"


# Digit styles as SVG-like paths in a unit box (x right, y down; M, L, Q, C with absolute points).
DIGIT_STYLES: dict[int, list[str]] = {
    0: ["M .5 0 C .05 0 0 .35 0 .5 C 0 .8 .2 1 .5 1 C .8 1 1 .8 1 .5 C 1 .2 .9 0 .45 .03",
        "M .55 0 C .3 0 .2 .3 .2 .5 C .2 .75 .3 1 .5 1 C .7 1 .8 .75 .8 .5 C .8 .25 .7 0 .5 .02"],
    1: ["M .52 0 L .48 1", "M .2 .28 L .58 0 L .58 1 M .25 1 L .9 1", "M .25 .22 L .55 0 L .52 1"],
    2: ["M .08 .28 C .1 0 .9 -.05 .88 .3 C .85 .55 .35 .75 .05 1 L .95 .98",
        "M .1 .25 C .15 0 .85 -.05 .85 .3 C .85 .55 .45 .8 .2 .92 C 0 1.02 .08 .75 .3 .85 C .5 .95 .75 1 .95 .95"],
    3: ["M .1 .15 C .3 -.05 .9 0 .85 .25 C .82 .42 .6 .47 .4 .47 C .65 .47 .95 .55 .92 .76 C .88 1.02 .3 1.04 .06 .86",
        "M .1 .02 L .88 .02 L .45 .4 C .75 .38 .95 .55 .92 .72 C .88 1 .35 1.04 .06 .86"],
    4: ["M .68 0 L .05 .66 L .95 .66 M .68 0 L .68 1", "M .15 0 L .08 .62 L .95 .62 M .7 .05 L .7 1",
        "M .55 .02 L .05 .64 L .95 .64 M .72 .3 L .72 1"],
    5: ["M .2 .02 L .15 .45 C .4 .33 .9 .38 .9 .68 C .9 .98 .4 1.05 .06 .88 M .2 .02 L .88 0",
        "M .85 .02 L .22 .02 L .17 .42 C .45 .3 .92 .42 .9 .7 C .88 1 .35 1.04 .08 .85"],
    6: ["M .75 0 C .35 .12 .1 .42 .1 .7 C .1 .9 .3 1 .52 1 C .75 1 .9 .86 .9 .68 C .9 .5 .75 .42 .52 .42 "
        "C .32 .42 .18 .52 .12 .64",
        "M .7 0 L .15 .62 C .05 .8 .2 1 .5 1 C .8 1 .9 .85 .9 .7 C .9 .5 .7 .43 .5 .45 C .35 .47 .2 .55 .15 .62"],
    7: ["M .05 .04 L .95 .04 L .4 1", "M .05 .04 L .95 .04 L .4 1 M .4 .52 L .9 .52",
        "M .05 .1 C .3 0 .7 .06 .95 .02 C .7 .35 .52 .65 .45 1"],
    8: ["M .5 .46 C .12 .4 .15 0 .5 0 C .85 0 .88 .4 .5 .46 C .05 .52 .05 1 .5 1 C .95 1 .95 .52 .5 .46",
        "M .85 .15 C .7 -.04 .15 -.02 .18 .22 C .2 .45 .85 .5 .85 .75 C .85 1 .15 1 .15 .75 C .15 .5 .8 .45 .82 .22 "
        "C .84 .05 .6 -.02 .45 0"],
    9: ["M .85 .28 C .85 .02 .15 0 .15 .28 C .15 .55 .8 .55 .85 .28 L .82 1",
        "M .85 .28 C .85 .02 .15 0 .15 .28 C .15 .55 .8 .55 .85 .28 C .88 .65 .65 1 .28 .98",
        "M .85 .1 C .6 -.05 .12 .05 .15 .3 C .18 .52 .75 .5 .85 .1 L .62 1"],
}


def _strokes(path: str) -> list[tuple[np.ndarray, list[int]]]:
    """The strokes of a path: each its control points and the degree of each of its segments."""
    tokens, strokes, i = path.split(), [], 0
    while i < len(tokens):
        degree = "MLQC".index(tokens[i])
        points = [(float(tokens[i + 1 + 2 * k]), float(tokens[i + 2 + 2 * k])) for k in range(max(1, degree))]
        i += 1 + 2 * max(1, degree)
        if degree == 0:
            strokes.append((points, []))
        else:
            strokes[-1][0].extend(points)
            strokes[-1][1].append(degree)
    return [(np.array(points), degrees) for points, degrees in strokes]


def _bezier(control: np.ndarray, steps: int) -> np.ndarray:
    t, n = np.linspace(0, 1, steps)[:, None], len(control) - 1
    return sum(math.comb(n, k) * t**k * (1 - t) ** (n - k) * control[k] for k in range(n + 1))


def _written(value: int, rng: np.random.Generator) -> tuple[bytes, str]:
    style = int(rng.integers(len(DIGIT_STYLES[value])))
    jitter, aspect = rng.uniform(0.02, 0.06), rng.uniform(0.45, 0.9)
    slant = rng.uniform(-20, 25)
    lines = []
    for points, degrees in _strokes(DIGIT_STYLES[value][style]):
        points = points + rng.uniform(-jitter, jitter, points.shape)
        pieces, start = [points[:1]], 0
        for degree in degrees:
            pieces.append(_bezier(points[start : start + degree + 1], 2 + 10 * (degree - 1))[1:])
            start += degree
        line = np.concatenate(pieces) - 0.5
        lines.append(np.stack([line[:, 0] * aspect - line[:, 1] * math.tan(math.radians(slant)), line[:, 1]], 1))
    long_side = int(rng.integers(100, 601))
    width, height = long_side, round(long_side * rng.uniform(0.75, 1.33))
    low, high = np.concatenate(lines).min(0), np.concatenate(lines).max(0)
    stroke = rng.uniform(0.05, 0.14)
    digit_px = rng.uniform(0.4, 0.8) * min(width, height)
    digit_px = min(digit_px, 0.9 * width / (high[0] - low[0] + stroke), 0.9 * height / (high[1] - low[1] + stroke))
    extent = (high - low + stroke) * digit_px
    room = np.array([width, height]) - extent
    where = room / 2 if rng.random() < 0.5 else room * rng.uniform(0.1, 0.9, 2)
    offset = where + (stroke / 2 - low) * digit_px
    canvas = Image.new("L", (width * 4, height * 4))
    draw, pen = ImageDraw.Draw(canvas), stroke * digit_px * 4
    for line in lines:
        points = [tuple(p) for p in (line * digit_px + offset) * 4]
        draw.line(points, fill=255, width=max(1, round(pen)), joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    pixels, kind = _on_paper(np.asarray(canvas.reduce(4), np.float32) / 255, rng)
    data, fmt = _save(pixels, rng)
    shape = f"style {style}, slant {slant:+.0f} deg, width {aspect:.2f}, stroke {stroke:.2f}"
    return data, f"{fmt}, {width}x{height}, {shape}, {kind}"


def other_writers(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, count: int) -> list[Sample]:
    """Digits 0-9 (uniformly) drawn by a stroke model in shapes of other writers; ignores the MNIST digits."""
    return [_sample(_written(value, rng), value) for value in rng.integers(0, 10, count)]


def _number(text: np.ndarray, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str, tuple]:
    height = rng.uniform(60, 160)
    picks = {d: iter(rng.choice(np.flatnonzero(labels == d), int((text == d).sum()), replace=False)) for d in set(text)}
    crops, sources = [], []
    for value in text:
        digit = images[next(picks[value])]
        sources.append(digit)
        top, bottom, _, _ = _ink_box(digit.astype(np.float32), 40)
        alpha = _pen(digit, round(28 * height * rng.uniform(0.85, 1.15) / (bottom - top)), 0.6)
        top, bottom, left, right = _ink_box(alpha, 0.02)
        crops.append(alpha[top:bottom, left:right])
    reference = max(float(np.mean([c.shape[1] for c in crops])), 0.4 * height)
    gaps = np.concatenate([[0], np.ceil(rng.uniform(0.1, 0.6, len(crops) - 1) * reference)])
    lefts = np.cumsum(gaps + np.array([0] + [c.shape[1] for c in crops[:-1]])).astype(int)
    bottoms = rng.uniform(-0.1, 0.1, len(crops)) * height  # a common baseline, each digit a little off it
    tops = np.round(bottoms - np.array([c.shape[0] for c in crops])).astype(int)
    margins = np.round(rng.uniform(0.3, 1.5, 4) * height).astype(int)  # left, right, top, bottom
    row_top, row_bottom = tops.min(), max(t + c.shape[0] for t, c in zip(tops, crops))
    row_width = lefts[-1] + crops[-1].shape[1]
    alpha = np.zeros((row_bottom - row_top + margins[2:].sum(), row_width + margins[:2].sum()), np.float32)
    for crop, top, left in zip(crops, tops, lefts):
        y, x = top - row_top + margins[2], left + margins[0]
        alpha[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
    ruled = rng.uniform(0.9, 1.6) * height if rng.random() < 0.35 else None
    pixels, kind = _on_paper(alpha, rng, ruled)
    data, fmt = _save(pixels, rng)
    return data, f"{fmt}, {alpha.shape[1]}x{alpha.shape[0]}, digits {height:.0f} px, {kind}", tuple(sources)


def numbers(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, count: int) -> list[Sample]:
    """A row of 2-10 separated MNIST digits (a different image for each), as a number written on paper."""
    samples = []
    for _ in range(count):
        text = rng.integers(0, 10, int(rng.integers(2, 11)))
        data, kind, sources = _number(text, images, labels, rng)
        samples.append(_sample((data, kind), "".join(map(str, text)), sources))
    return samples


def _one_digit_each(render: Callable[[np.ndarray, np.random.Generator], tuple[bytes, str]]) -> Builder:
    """A builder rendering `count` MNIST digits picked at random, one per sample."""
    def build(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, count: int) -> list[Sample]:
        picked = rng.choice(len(labels), size=count, replace=count > len(labels))
        return [_sample(render(images[i], rng), labels[i], (images[i],)) for i in picked]

    build.__doc__ = render.__doc__
    return build


def _toolkit_style(style: str) -> Callable[[np.ndarray, np.random.Generator], tuple[bytes, str]]:
    def render(digit: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
        return STYLES[style](digit, rng), style

    render.__doc__ = f"One MNIST digit rendered by mnist_toolkit.reading.synthetic's {style!r}."
    return render


SETS: dict[str, Builder] = {
    "phone photos": _one_digit_each(_phone_photo),
    "tight crops, thick strokes": _one_digit_each(_tight_crop),
    "form boxes, 64 px": _one_digit_each(_form_box),
    "other writers": other_writers,
    "numbers": numbers,
    "mnist on paper": _one_digit_each(_toolkit_style("photo, RGB JPEG")),
    "canvas alpha": _one_digit_each(_toolkit_style("canvas, alpha-only PNG")),
}


def build_set(name: str, count: int, seed: int, split: str = "test") -> list[Sample]:
    """`count` samples of set `name` from MNIST's `split`: "test" for reported numbers, "train" to develop."""
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}; the sets are {', '.join(map(repr, SETS))}")
    digits = load_split(resolve_source(), split)
    return SETS[name](np.random.default_rng(seed), digits.images, digits.labels, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=list(SETS), help="a set to build (repeatable; default all)")
    parser.add_argument("--count", type=int, default=20, help="samples per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["train", "test"], default="test")
    parser.add_argument("--preview", type=Path, help="write the first samples of each set as files into this folder")
    parser.add_argument("--preview-count", type=int, default=12, help="samples per set written by --preview")
    args = parser.parse_args()
    if args.preview:
        args.preview.mkdir(parents=True, exist_ok=True)
    load_split(resolve_source(), args.split)  # read and verified once, outside the timings
    for name in args.set or list(SETS):
        started = time.perf_counter()
        samples = build_set(name, args.count, args.seed, args.split)
        print(f"{name:28s} {len(samples):5d} samples {time.perf_counter() - started:8.2f} s", flush=True)
        for i, sample in enumerate(samples[: args.preview_count] if args.preview else []):
            ext = "png" if sample.data.startswith(b"\x89PNG") else "jpg"
            slug = name.replace(", ", "_").replace(" ", "_")
            (args.preview / f"{slug}-{i:03d}-{sample.label}.{ext}").write_bytes(sample.data)


if __name__ == "__main__":
    main()
