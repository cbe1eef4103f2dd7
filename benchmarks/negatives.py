"""Images that hold no digit, for training and measuring the "not a digit" detector (issue 22).

Each kind has a name, a group and a role: "training" kinds may be used to train the detector (fresh
images of them are measured as "seen"), "held out" kinds are never used in training nor to choose its
threshold, only measured ("never seen"). A kind's generator draws one image of realistic size
(100-400 px) from a seeded generator: image `i` of kind `k` with seed `s` is the same whatever else
is generated (`images(kind, count, seed)`).

- Training: star, triangle, square/rectangle/diamond, cross, arrow, check mark, circle with marks
  (sun, target, dial, dots), doodles (stick figure, fish, pine tree, umbrella, boat, car), scribbles,
  zigzags and loops, random joined strokes, hatching, dots and checks, letters of font set A and of
  handwriting style A.
- Held out: heart, smiley, spiral, house, flower, hash sign, lightning bolt, letters of font set B and
  of handwriting style B, noise, and five kinds of synthetic photos (a smooth random field, objects on
  a table, an animal, a face, one object).
- Added after the first build was measured: filled polygons and blobs, photos of textured surfaces
  (training); an envelope, a bicycle, photos of a building's windows (held out, `LATE_HELD_OUT`).
- Added on 2026-12-03 and measured once: printed Greek and Cyrillic letters, music notes, photos of
  fruit on a plate (held out, `FRESH_HELD_OUT`).
- Added on 2026-12-03, a second set: printed Georgian and Lao letters, scissors, photos of a chair
  and a lamp in a room (held out, written before any detector was measured on them,
  `FRESH_HELD_OUT_2`).
- Added on 2026-12-03, a third set: printed signs (& @ % § ¶ ? ! ...), an anchor, photos of a car on
  a street (held out, written before the detector that reads the context view was measured on them,
  `FRESH_HELD_OUT_3`).
- Added on 2026-12-03, a fourth set: handwritten words, a light bulb, photos of a potted plant (held
  out, `FRESH_HELD_OUT_4`); and a fifth: printed Armenian and Hebrew letters, a teacup, photos of a
  bookshelf (held out, `FRESH_HELD_OUT_5`), each written before any detector was measured on it.
- Added on 2026-12-03 after the seventh build was measured, a sixth set: printed Lisu and Old Italic
  letters, a cat's head, photos of a keyboard (held out, `FRESH_HELD_OUT_6`, not measured yet).
- Added on 2026-12-03 for the sixth build, after the fifth set was committed: printed glyphs of other
  scripts and symbol blocks (Canadian syllabics, Tifinagh, N'Ko, Arabic letters, mathematical and
  technical signs, geometric shapes, arrows, hexagrams; DejaVu Sans faces) and more doodles (a key, a
  leaf, a kite, a bird, a candle, a book, a fork, a tent, a crown) (training).

Drawings are ink coverage rendered by `on_paper`: dark ink on light, unevenly lit, noisy paper, or
light on dark (a board, an inverted scan), grey or colour, some JPEG; filled ones are sometimes shaded.
Photos are drawn directly in colour. Shapes a reader would take for a digit are not drawn: a circle or
ellipse (0), a single bar (1), a blot (a very thick digit at 28x28), a flower on a bare stem (9), a
cloud's outline (0), a crescent (C).

Letters: only those that do not look like a digit, `LETTERS`; `DIGIT_LIKE_LETTERS` are left out
(B b 8 6; C c D O o Q 0; G 6; g q 9; I i J j L l 1; S s 5; T t 7; Z z 2; U u h y, an open 4). Printed
letters come from the DejaVu fonts, found by file name through Pillow's font search: DejaVu Sans
(font set A, training) and DejaVu Serif (font set B, held out). Handwritten letters are drawn as
strokes: straight polylines (style A, training) and rounded script (style B, held out, with its own
letter skeletons). No handwriting font is used (those are reserved), nor any bundled sample photograph.
Georgian and Lao letters come from the DejaVu faces' own tables (`glyphs`), without those the
pretrained digit model reads as a digit when drawn plainly and without bars (a 1).

Usage: poetry run python benchmarks/negatives.py [--count N] [--seed S] [--preview DIR]
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

#: Drawings are made at this many times their size and reduced: antialiased strokes and edges.
SUPERSAMPLE = 2
#: Frames are 100-400 px on the long side, as a crop or a small photo a user would send.
FRAME_SIDES = (100, 400)
#: Share of drawings rendered light on dark (a board, an inverted scan), as in the real-world sets.
LIGHT_ON_DARK_ODDS = 0.2
#: Share of images saved and reopened as JPEG (its blocks and ringing are part of a real photo).
JPEG_ODDS = 0.3
#: Pen width as a share of the drawing's size: MNIST strokes are 2-4 px of a 20 px digit (10-20 %);
#: a fine pen on a large drawing is thinner, a marker thicker.
PEN_SHARE = (0.04, 0.16)
#: Share of filled drawings shaded (coloured in unevenly, lit from one side) rather than flat.
SHADED_ODDS = 0.5

#: Letters that do not look like a digit (upper and lower case), drawn by fonts and strokes.
LETTERS = "AEFHKMNPRVWXY" + "aefkmnprvwx"
#: Letters left out because a reader could take them for a digit: B 8, b 6, C c D O o Q 0, G 6, g q 9,
#: I i J j L l 1, S s 5, T t 7, Z z 2, and U u h y, which are how many write an open 4.
DIGIT_LIKE_LETTERS = "BbCcDGgIiJjLlOoQqSsTtZzUuhy"
#: Font set A (training): DejaVu Sans in its styles. Font set B (held out): DejaVu Serif in its styles.
FONTS_A = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
           "DejaVuSans-ExtraLight.ttf", "DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf",
           "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")  # fmt: skip
FONTS_B = ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
           "DejaVuSerifCondensed.ttf", "DejaVuSerifCondensed-Bold.ttf")  # fmt: skip


@dataclass(frozen=True)
class Kind:
    """One kind of non-digit image."""

    name: str
    group: str  # shapes | letters | scribbles | textures | noise | photos
    training: bool  # used to train the detector; False: held out, never seen
    draw: Callable[[np.random.Generator], tuple[Image.Image, str]]  # rng -> (image, tag: what was drawn)


KINDS: dict[str, Kind] = {}


def _kind(name: str, group: str, training: bool):
    def register(draw):
        if name in KINDS:
            raise ValueError(f"duplicate kind {name!r}")
        KINDS[name] = Kind(name, group, training, draw)
        return draw

    return register


def images(kind: str, count: int, seed: int, start: int = 0) -> list[tuple[Image.Image, str]]:
    """Images `start` .. `start + count - 1` of `kind` with `seed`, each from its own generator."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
    key = zlib.crc32(kind.encode())
    return [KINDS[kind].draw(np.random.default_rng([seed, key, i])) for i in range(start, start + count)]


# --- rendering ------------------------------------------------------------------------------------


def frame_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height): the long side 100-400 px, aspect up to 4:3 either way."""
    long_side = int(rng.integers(*FRAME_SIDES, endpoint=True))
    short_side = int(long_side * rng.uniform(0.75, 1.0))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


class Canvas:
    """A coverage canvas (0 = paper, 1 = ink) drawn at SUPERSAMPLE times the frame's size."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.image = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE))
        self.draw = ImageDraw.Draw(self.image)

    def stroke(self, points, width: float) -> None:
        """A pen stroke through `points` (frame pixels), round caps and joints."""
        pts = [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]
        w = max(1, round(width * SUPERSAMPLE))
        if len(pts) > 1:
            self.draw.line(pts, fill=255, width=w, joint="curve")
        r = w / 2
        for x, y in (pts[0], pts[-1]):
            self.draw.ellipse((x - r, y - r, x + r, y + r), fill=255)

    def fill(self, points, value: int = 255) -> None:
        self.draw.polygon([(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points], fill=value)

    def ellipse(self, box, fill: bool, width: float = 1.0) -> None:
        left, top, right, bottom = (v * SUPERSAMPLE for v in box)
        if fill:
            self.draw.ellipse((left, top, right, bottom), fill=255)
        else:
            self.draw.ellipse((left, top, right, bottom), outline=255, width=max(1, round(width * SUPERSAMPLE)))

    def cover(self) -> np.ndarray:
        """(H, W) float32 coverage in [0, 1] at the frame's size."""
        return np.asarray(self.image.resize(self.size, Image.LANCZOS), dtype=np.float32) / 255


def on_paper(cover: np.ndarray, rng: np.random.Generator, light_on_dark: float = LIGHT_ON_DARK_ODDS) -> Image.Image:
    """Ink coverage (H, W) in [0, 1] as a photo or scan of it: paper and ink tones, a lighting gradient,
    noise, a little blur; grey or colour; dark on light, or light on dark with odds `light_on_dark`."""
    height, width = cover.shape
    if rng.random() < light_on_dark:
        ground, ink = rng.uniform(15, 80), rng.uniform(165, 245)
    else:
        ground, ink = rng.uniform(185, 250), rng.uniform(5, 100)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.18) * ((np.cos(angle) * x / width + np.sin(angle) * y / height) - 0.5)
    tone = ground * light + (ink - ground) * light * cover
    if rng.random() < 0.5:
        tint = np.array([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.8, 1.0)], np.float32)
        ink_hue = np.array([1.0, 1.0, 1.0]) if rng.random() < 0.6 else np.array([0.5, 0.6, 1.6])
        pixels = tone[..., None] * tint * (1 - cover[..., None] * (1 - ink_hue.astype(np.float32)) * 0.3)
    else:
        pixels = tone
    pixels = pixels + rng.normal(0, rng.uniform(1, 7), pixels.shape).astype(np.float32)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return _maybe_jpeg(image, rng)


def _maybe_jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    if rng.random() >= JPEG_ODDS:
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(60, 95)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def _placement(rng: np.random.Generator, frame: tuple[int, int], low: float = 0.35, high: float = 0.85):
    """(centre x, centre y, size): a drawing of `size` px somewhere in the frame, wholly inside it."""
    width, height = frame
    size = rng.uniform(low, high) * min(width, height)
    cx = rng.uniform(size / 2 + 2, width - size / 2 - 2)
    cy = rng.uniform(size / 2 + 2, height - size / 2 - 2)
    return cx, cy, size


def _pen(rng: np.random.Generator, size: float) -> float:
    return max(1.5, rng.uniform(*PEN_SHARE) * size)


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float, step: float) -> np.ndarray:
    """A polyline resampled every `step` px and displaced by a smooth random offset of about `amount`
    px: a hand's tremor and drift, not a ruler's line."""
    points = np.asarray(points, np.float64)
    seg = np.hypot(*np.diff(points, axis=0).T)
    length = np.concatenate([[0], np.cumsum(seg)])
    if length[-1] <= 0:
        return points
    t = np.linspace(0, length[-1], max(2, int(length[-1] / step) + 1))
    dense = np.stack([np.interp(t, length, points[:, 0]), np.interp(t, length, points[:, 1])], axis=1)
    knots = max(2, int(length[-1] / (8 * step)) + 2)
    offsets = rng.normal(0, amount, (knots, 2))
    at = np.linspace(0, length[-1], knots)
    return dense + np.stack([np.interp(t, at, offsets[:, 0]), np.interp(t, at, offsets[:, 1])], axis=1)


def _transform(points, cx: float, cy: float, size: float, angle: float = 0.0, slant: float = 0.0, aspect: float = 1.0):
    """Unit-box points ([0, 1]^2, y down) -> frame pixels: slanted, squeezed, turned, centred at (cx, cy)."""
    p = np.asarray(points, np.float64) - 0.5
    p[:, 0] = (p[:, 0] - slant * p[:, 1]) * aspect
    c, s = math.cos(angle), math.sin(angle)
    p = p @ np.array([[c, s], [-s, c]])
    return p * size + np.array([cx, cy])


def _drawn(rng: np.random.Generator, paths, closed: bool | None = None, fill_odds: float = 0.0,
           angle_range: float = math.pi, wobble: float = 0.015) -> tuple[Image.Image, str]:  # fmt: skip
    """Unit-box paths drawn by hand in a frame: turned within +-angle_range, wobbling, maybe filled."""
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame)
    canvas = Canvas(*frame)
    angle = rng.uniform(-angle_range, angle_range)
    filled = rng.random() < fill_odds
    pen = _pen(rng, size)
    for path in paths:
        pts = _transform(path, cx, cy, size, angle, rng.uniform(-0.15, 0.15), rng.uniform(0.85, 1.15))
        pts = _wobble(pts, rng, wobble * size, max(1.0, size / 60))
        if filled:
            canvas.fill([tuple(p) for p in pts])
        else:
            canvas.stroke([tuple(p) for p in pts], pen)
    cover = canvas.cover()
    if filled and rng.random() < SHADED_ODDS:  # coloured in unevenly, or lit from one side
        cover *= _shading(rng, cover.shape)
    return on_paper(cover, rng), "filled" if filled else "outline"


def _shading(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A linear ramp from 1 down to 0.4-0.8 across the frame, in a random direction."""
    height, width = shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x / width + np.sin(angle) * y / height
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return (1 - rng.uniform(0.2, 0.6) * ramp).astype(np.float32)


def _circle(cx: float, cy: float, r: float, ry: float | None = None, points: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points)
    return np.stack([cx + r * np.cos(t), cy + (r if ry is None else ry) * np.sin(t)], axis=1)


# --- shapes ---------------------------------------------------------------------------------------


def _polygon(n: int, radius_at: Callable[[int], float], turn: float = 0.0) -> np.ndarray:
    angles = turn + np.arange(n) * 2 * np.pi / n - np.pi / 2
    r = np.array([radius_at(k) for k in range(n)])
    pts = np.stack([0.5 + 0.5 * r * np.cos(angles), 0.5 + 0.5 * r * np.sin(angles)], axis=1)
    return np.vstack([pts, pts[:1]])


@_kind("star", "shapes", True)
def star(rng):
    points = int(rng.choice([5, 5, 5, 6, 7, 8]))
    inner = rng.uniform(0.3, 0.55)
    if points == 5 and rng.random() < 0.35:  # the pentagram, drawn in one stroke
        outline = _polygon(5, lambda k: 1.0)[[0, 2, 4, 1, 3, 0]]
        image, _ = _drawn(rng, [outline])
        return image, "pentagram"
    image, how = _drawn(rng, [_polygon(2 * points, lambda k: 1.0 if k % 2 == 0 else inner)], fill_odds=0.3)
    return image, f"{points}-point star, {how}"


@_kind("triangle", "shapes", True)
def triangle(rng):
    pts = _polygon(3, lambda k: rng.uniform(0.8, 1.0), rng.uniform(-0.3, 0.3))
    image, how = _drawn(rng, [pts], fill_odds=0.3)
    return image, how


@_kind("square, rectangle, diamond", "shapes", True)
def quadrilateral(rng):
    aspect = rng.uniform(0.65, 1.0)
    half = aspect / 2
    pts = np.array([[0.5 - half, 0], [0.5 + half, 0], [0.5 + half, 1], [0.5 - half, 1], [0.5 - half, 0]])
    if rng.random() < 0.3:  # a diamond
        pts = np.array([[0.5, 0], [0.5 + half, 0.5], [0.5, 1], [0.5 - half, 0.5], [0.5, 0]])
    image, how = _drawn(rng, [pts], fill_odds=0.3, angle_range=math.pi / 2)
    return image, how


@_kind("cross, plus, x", "shapes", True)
def cross(rng):
    arm = rng.uniform(0.6, 1.0)
    paths = [np.array([[0.5, 0.5 - arm / 2], [0.5, 0.5 + arm / 2]]), np.array([[0, 0.5], [1, 0.5]])]
    if rng.random() < 0.5:
        paths = [np.array([[0, 0], [1, 1]]), np.array([[1, 0], [0, 1]])]
    image, _ = _drawn(rng, paths, angle_range=0.25)
    return image, "cross"


@_kind("arrow", "shapes", True)
def arrow(rng):
    head = rng.uniform(0.2, 0.4)
    paths = [np.array([[0, 0.5], [1, 0.5]]), np.array([[1 - head, 0.5 - head], [1, 0.5], [1 - head, 0.5 + head]])]
    if rng.random() < 0.3:  # a block arrow, outlined or filled
        paths = [np.array([[0, 0.4], [0.6, 0.4], [0.6, 0.2], [1, 0.5], [0.6, 0.8], [0.6, 0.6], [0, 0.6], [0, 0.4]])]
        image, how = _drawn(rng, paths, fill_odds=0.5)
        return image, f"block arrow, {how}"
    image, _ = _drawn(rng, paths)
    return image, "arrow"


@_kind("check mark", "shapes", True)
def check_mark(rng):
    image, _ = _drawn(rng, [np.array([[0, 0.55], [0.35, 0.9], [1, 0.05]])], angle_range=0.3)
    return image, "check"


# Held-out shapes: never seen in training.


@_kind("heart", "shapes", False)
def heart(rng):
    t = np.linspace(0, 2 * np.pi, 80)
    x, y = 16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([(x + 17) / 34, (y + 17) / 30], axis=1)
    image, how = _drawn(rng, [pts], fill_odds=0.35, angle_range=0.4)
    return image, how


@_kind("smiley", "shapes", False)
def smiley(rng):
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame)
    canvas = Canvas(*frame)
    pen = _pen(rng, size) * 0.8
    r = size / 2
    around = np.linspace(0, 2 * np.pi, 60)
    face = _wobble(np.stack([cx + r * np.cos(around), cy + r * np.sin(around)], 1), rng, 0.01 * size, 2)
    canvas.stroke([tuple(p) for p in face], pen)
    eye = max(pen * 0.7, size * rng.uniform(0.05, 0.09))
    for side in (-1, 1):
        ex, ey = cx + side * r * rng.uniform(0.3, 0.4), cy - r * rng.uniform(0.2, 0.35)
        canvas.ellipse((ex - eye / 2, ey - eye, ex + eye / 2, ey + eye), fill=True)
    mouth = np.linspace(0.2 * np.pi, 0.8 * np.pi, 20)
    mr = r * rng.uniform(0.45, 0.6)
    canvas.stroke([(cx + mr * np.cos(a), cy + 0.05 * r + mr * np.sin(a) * 0.8) for a in mouth], pen)
    return on_paper(canvas.cover(), rng), "smiley"


@_kind("spiral", "shapes", False)
def spiral(rng):
    turns = rng.uniform(1.6, 4.0)
    t = np.linspace(0, turns * 2 * np.pi, int(60 * turns))
    r = 0.5 * t / t[-1]
    sign = 1 if rng.random() < 0.5 else -1
    pts = np.stack([0.5 + r * np.cos(sign * t), 0.5 + r * np.sin(sign * t)], axis=1)
    image, _ = _drawn(rng, [pts], wobble=0.01)
    return image, f"{turns:.1f} turns"


@_kind("house", "shapes", False)
def house(rng):
    body = np.array([[0.15, 0.45], [0.15, 1], [0.85, 1], [0.85, 0.45], [0.15, 0.45]])
    roof = np.array([[0.05, 0.5], [0.5, 0.0], [0.95, 0.5]])
    door = np.array([[0.42, 1], [0.42, 0.72], [0.58, 0.72], [0.58, 1]])
    image, _ = _drawn(rng, [body, roof, door], angle_range=0.2)
    return image, "house"


@_kind("flower", "shapes", False)
def flower(rng):
    petals = int(rng.integers(5, 9))
    stem = rng.random() < 0.5
    cy = 0.35 if stem else 0.5
    heart, reach = rng.uniform(0.07, 0.12), 0.3 if stem else 0.45
    paths = [_circle(0.5, cy, heart)]
    for k in range(petals):  # each petal a loop from the heart outwards and back
        a = 2 * np.pi * k / petals
        t = np.linspace(-0.5, 0.5, 16) * 2 * np.pi / petals
        r = heart + (reach - heart) * np.sin(np.linspace(0, np.pi, 16))
        paths.append(np.stack([0.5 + r * np.cos(a + t), cy + r * np.sin(a + t)], axis=1))
    if stem:  # a stem with two leaves
        paths.append(np.array([[0.5, cy + reach], [0.5, 1.0]]))
        for side, base in ((-1, 0.8), (1, 0.7)):  # each a pointed loop off the stem
            t = np.linspace(0, 1, 12)
            bulge = 0.05 * np.sin(np.pi * t)
            upper = np.stack([0.5 + side * 0.22 * t, base - 0.08 * t - bulge], axis=1)
            lower = np.stack([0.5 + side * 0.22 * t, base - 0.08 * t + bulge], axis=1)[::-1]
            paths.append(np.vstack([upper, lower]))
    image, _ = _drawn(rng, paths, angle_range=0.3)
    return image, f"{petals} petals" + (", stem" if stem else "")


@_kind("hash, grid sign", "shapes", False)
def hash_sign(rng):
    paths = [np.array([[0.35, 0], [0.3, 1]]), np.array([[0.7, 0], [0.65, 1]]), np.array([[0, 0.35], [1, 0.35]]), np.array([[0, 0.68], [1, 0.68]])]
    image, _ = _drawn(rng, paths, angle_range=0.3)
    return image, "#"


@_kind("lightning bolt", "shapes", False)
def lightning(rng):
    pts = np.array([[0.55, 0], [0.25, 0.55], [0.5, 0.55], [0.35, 1], [0.8, 0.4], [0.55, 0.4], [0.75, 0], [0.55, 0]])
    image, how = _drawn(rng, [pts], fill_odds=0.5, angle_range=0.3)
    return image, how


# More drawings used in training: circles with marks, and small doodles.


@_kind("circle with marks (sun, target, dial, dice)", "shapes", True)
def circle_with_marks(rng):
    r = rng.uniform(0.25, 0.45) if rng.random() < 0.5 else 0.45
    which = int(rng.integers(5))
    paths = [_circle(0.5, 0.5, r)]
    if which == 0:  # a sun: rays all around
        rays = int(rng.integers(6, 13))
        for k in range(rays):
            a = 2 * np.pi * k / rays
            paths.append(np.array([[0.5 + (r + 0.05) * np.cos(a), 0.5 + (r + 0.05) * np.sin(a)], [0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)]]))
        tag = "sun"
    elif which == 1:  # a target: rings inside
        for k in range(1, int(rng.integers(2, 4))):
            paths.append(_circle(0.5, 0.5, r * (1 - 0.33 * k)))
        tag = "target"
    elif which == 2:  # a crossed or plussed circle
        a = rng.uniform(0, np.pi / 2)
        for b in (a, a + np.pi / 2):
            paths.append(np.array([[0.5 - r * np.cos(b), 0.5 - r * np.sin(b)], [0.5 + r * np.cos(b), 0.5 + r * np.sin(b)]]))
        tag = "crossed circle"
    elif which == 3:  # a dial: hands from the centre, ticks
        for a in rng.uniform(0, 2 * np.pi, 2):
            paths.append(np.array([[0.5, 0.5], [0.5 + r * rng.uniform(0.5, 0.85) * np.cos(a), 0.5 + r * rng.uniform(0.5, 0.85) * np.sin(a)]]))
        tag = "dial"
    else:  # dots scattered inside, as on a die or a ladybird
        for _ in range(int(rng.integers(2, 7))):
            a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.65) * r
            paths.append(_circle(0.5 + d * np.cos(a), 0.5 + d * np.sin(a), 0.015, points=8))
        tag = "dots inside"
    if rng.random() < 0.3:  # a square frame instead of a circle
        paths[0] = np.array([[0.5 - r, 0.5 - r], [0.5 + r, 0.5 - r], [0.5 + r, 0.5 + r], [0.5 - r, 0.5 + r], [0.5 - r, 0.5 - r]])
        tag += ", square"
    image, _ = _drawn(rng, paths, angle_range=0.3, wobble=0.008)
    return image, tag


DOODLES = {
    "stick figure": [_circle(0.5, 0.14, 0.12), [(0.5, 0.26), (0.5, 0.65)], [(0.2, 0.4), (0.5, 0.35), (0.8, 0.4)], [(0.28, 1.0), (0.5, 0.65), (0.72, 1.0)]],
    "fish": [np.vstack([_circle(0.45, 0.5, 0.32, 0.2)]), [(0.75, 0.5), (1.0, 0.3), (1.0, 0.7), (0.75, 0.5)], _circle(0.25, 0.45, 0.03, points=8)],
    "pine tree": [[(0.5, 0.0), (0.2, 0.35), (0.38, 0.35), (0.1, 0.7), (0.9, 0.7), (0.62, 0.35), (0.8, 0.35), (0.5, 0.0)], [(0.43, 0.7), (0.43, 1.0), (0.57, 1.0), (0.57, 0.7)]],
    "umbrella": [np.vstack([np.stack([0.5 + 0.5 * np.cos(t), 0.45 - 0.4 * np.sin(t)], 1) for t in [np.linspace(0, np.pi, 30)]] + [[(0.0, 0.45), (1.0, 0.45)]]), [(0.5, 0.05), (0.5, 0.9)], [(0.5, 0.9), (0.45, 1.0), (0.35, 0.95)]],
    "sailboat": [[(0.5, 0.0), (0.5, 0.7)], [(0.5, 0.05), (0.85, 0.65), (0.5, 0.65)], [(0.1, 0.72), (0.9, 0.72), (0.75, 0.95), (0.25, 0.95), (0.1, 0.72)]],
    "car": [[(0.0, 0.75), (0.0, 0.5), (0.2, 0.5), (0.35, 0.25), (0.7, 0.25), (0.82, 0.5), (1.0, 0.55), (1.0, 0.75), (0.0, 0.75)], _circle(0.25, 0.8, 0.1), _circle(0.75, 0.8, 0.1)],
}


#: Doodles whose every path is closed, so that they may also be drawn as filled silhouettes.
CLOSED_DOODLES = ("fish", "pine tree", "car")


@_kind("doodles (stick figure, fish, tree, umbrella, boat, car)", "shapes", True)
def doodle(rng):
    name = str(rng.choice(list(DOODLES)))
    paths = [np.asarray(path, np.float64) + rng.normal(0, 0.01, np.shape(path)) for path in DOODLES[name]]
    image, how = _drawn(rng, paths, angle_range=0.25, wobble=0.008, fill_odds=0.4 if name in CLOSED_DOODLES else 0.0)
    return image, f"{name}, {how}"


# --- scribbles and textures (training) -------------------------------------------------------------


def _scribble_path(rng: np.random.Generator, turns: int) -> np.ndarray:
    """A smooth random curve through `turns` random points of the unit box (Catmull-Rom)."""
    control = rng.uniform(0, 1, (turns + 3, 2))
    return _catmull_rom(control, 12)


def _catmull_rom(control: np.ndarray, steps: int) -> np.ndarray:
    p = np.vstack([control[:1], control, control[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(p[-2:-1])
    return np.vstack(out)


@_kind("scribble", "scribbles", True)
def scribble(rng):
    strokes = int(rng.choice([1, 1, 2, 3]))
    paths = [_scribble_path(rng, int(rng.integers(5, 12))) for _ in range(strokes)]
    image, _ = _drawn(rng, paths, wobble=0.005)
    return image, f"{strokes} strokes"


@_kind("zigzag, loops", "scribbles", True)
def zigzag(rng):
    n = int(rng.integers(4, 9))
    if rng.random() < 0.5:  # a zigzag or a wave
        x = np.linspace(0, 1, n + 1)
        y = np.where(np.arange(n + 1) % 2 == 0, 0.2, 0.8) + rng.normal(0, 0.05, n + 1)
        pts = np.stack([x, y], axis=1)
        if rng.random() < 0.5:
            pts = _catmull_rom(pts, 10)
        image, _ = _drawn(rng, [pts])
        return image, f"zigzag {n}"
    t = np.linspace(0, n * 2 * np.pi, n * 40)  # a row of loops, as a pen tried on paper
    pts = np.stack([0.05 + 0.9 * t / t[-1] + 0.12 * np.cos(t + np.pi), 0.5 - 0.3 * np.sin(t)], axis=1)
    image, _ = _drawn(rng, [pts], angle_range=0.3)
    return image, f"loops {n}"


def _primitive(rng: np.random.Generator) -> np.ndarray:
    """One pen mark in the unit box: a line, an arc, a small ring, a dot, an angle or a wave."""
    cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.1, 0.4)
    which = int(rng.integers(6))
    if which == 0:
        a = rng.uniform(0, np.pi)
        return np.array([[cx - r * np.cos(a), cy - r * np.sin(a)], [cx + r * np.cos(a), cy + r * np.sin(a)]])
    if which in (1, 2, 3):  # an arc, a small ring, a dot (a tiny ring: the pen fills it)
        start = rng.uniform(0, 2 * np.pi)
        span = rng.uniform(np.pi / 3, 5 * np.pi / 3) if which == 1 else 2 * np.pi
        r = r if which == 1 else rng.uniform(0.05, 0.15) if which == 2 else 0.01
        t = np.linspace(start, start + span, 30)
        return np.stack([cx + r * np.cos(t), cy + r * rng.uniform(0.6, 1.0) * np.sin(t)], axis=1)
    if which == 4:
        return np.array([[cx, cy], [cx + rng.uniform(-r, r), cy + rng.uniform(-r, r)], [cx + rng.uniform(-r, r), cy + rng.uniform(-r, r)]])
    t = np.linspace(0, 1, 40)
    return np.stack([cx - r + 2 * r * t, cy + 0.3 * r * np.sin(t * rng.uniform(2, 5) * np.pi)], axis=1)


@_kind("random strokes", "scribbles", True)
def random_strokes(rng):
    """2-5 pen marks joined end to start, so that the reading takes them as one drawing (apart, it
    would keep the largest alone: a line is a 1, a ring a 0)."""
    marks = int(rng.integers(2, 6))
    pieces, end = [], None
    for _ in range(marks):
        piece = _primitive(rng)
        if end is not None:
            piece = piece - piece[0] + end
        pieces.append(piece)
        end = piece[-1]
    joined = np.vstack(pieces)
    low, high = joined.min(axis=0), joined.max(axis=0)
    joined = (joined - low) / max(float((high - low).max()), 1e-6)  # back into the unit box
    image, _ = _drawn(rng, [joined], angle_range=0.3, wobble=0.006)
    return image, f"{marks} marks"


@_kind("hatching, stripes, grid", "textures", True)
def hatching(rng):
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame, 0.4, 0.95)
    canvas = Canvas(*frame)
    spacing = size * rng.uniform(0.06, 0.2)
    pen = max(1.0, spacing * rng.uniform(0.15, 0.5))
    directions = [rng.uniform(0, np.pi)] + ([rng.uniform(0, np.pi)] if rng.random() < 0.4 else [])
    for angle in directions:
        c, s = math.cos(angle), math.sin(angle)
        for off in np.arange(-size / 2, size / 2, spacing):
            a = np.array([cx + off * c - size / 2 * s, cy + off * s + size / 2 * c])
            b = np.array([cx + off * c + size / 2 * s, cy + off * s - size / 2 * c])
            canvas.stroke([tuple(p) for p in _wobble(np.array([a, b]), rng, 0.005 * size, 3)], pen)
    return on_paper(canvas.cover(), rng), f"{len(directions)} directions"


@_kind("dots, checks", "textures", True)
def dots(rng):
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame, 0.4, 0.95)
    canvas = Canvas(*frame)
    spacing = size * rng.uniform(0.08, 0.25)
    checker = rng.random() < 0.4
    radius = spacing * rng.uniform(0.15, 0.4)
    for i, y in enumerate(np.arange(cy - size / 2, cy + size / 2, spacing)):
        for j, x in enumerate(np.arange(cx - size / 2, cx + size / 2, spacing)):
            if checker:
                if (i + j) % 2 == 0:
                    canvas.fill([(x, y), (x + spacing, y), (x + spacing, y + spacing), (x, y + spacing)])
            else:
                jx, jy = rng.normal(0, spacing * 0.1, 2)
                canvas.ellipse((x + jx - radius, y + jy - radius, x + jx + radius, y + jy + radius), fill=True)
    return on_paper(canvas.cover(), rng), "checkerboard" if checker else "dots"


# --- letters ---------------------------------------------------------------------------------------


def _font(name: str, size: int):
    return ImageFont.truetype(name, size)  # Pillow looks the file name up in the system's font folders


def _typeset(rng: np.random.Generator, character: str, name: str) -> Canvas:
    """`character` in the font file `name`, 35-80 % of a new frame's short side, somewhere inside it."""
    frame = frame_size(rng)
    width, height = frame
    size = int(min(width, height) * rng.uniform(0.35, 0.8))
    font = _font(name, size * SUPERSAMPLE)
    canvas = Canvas(*frame)
    left, top, right, bottom = canvas.draw.textbbox((0, 0), character, font=font)
    x = rng.uniform(2 * SUPERSAMPLE, max(3 * SUPERSAMPLE, width * SUPERSAMPLE - (right - left) - 2 * SUPERSAMPLE)) - left
    y = rng.uniform(2 * SUPERSAMPLE, max(3 * SUPERSAMPLE, height * SUPERSAMPLE - (bottom - top) - 2 * SUPERSAMPLE)) - top
    canvas.draw.text((x, y), character, fill=255, font=font)
    return canvas


def _print_on_paper(rng: np.random.Generator, character: str, name: str) -> tuple[Image.Image, str]:
    """`_typeset`, sometimes a little turned (a photo of a sign or a page), on paper."""
    canvas = _typeset(rng, character, name)
    if rng.random() < 0.3:
        canvas.image = canvas.image.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
    return on_paper(canvas.cover(), rng), f"{character} {name.removesuffix('.ttf')}"


def _printed(rng: np.random.Generator, fonts: tuple[str, ...]) -> tuple[Image.Image, str]:
    letter = str(rng.choice(list(LETTERS)))
    return _print_on_paper(rng, letter, str(rng.choice(fonts)))


@_kind("letters, font set A (DejaVu Sans)", "letters", True)
def letters_font_a(rng):
    return _printed(rng, FONTS_A)


@_kind("letters, font set B (DejaVu Serif)", "letters", False)
def letters_font_b(rng):
    return _printed(rng, FONTS_B)


#: Style A, straight strokes: each letter a list of polylines in the unit box (y down).
_ARC_P = [(0.15, 0.0), (0.6, 0.0), (0.8, 0.08), (0.85, 0.25), (0.8, 0.42), (0.6, 0.5), (0.15, 0.5)]
PRINT_LETTERS = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.22, 0.6), (0.78, 0.6)]],
    "E": [[(0.85, 0.0), (0.15, 0.0), (0.15, 1.0), (0.85, 1.0)], [(0.15, 0.5), (0.7, 0.5)]],
    "F": [[(0.85, 0.0), (0.15, 0.0), (0.15, 1.0)], [(0.15, 0.5), (0.7, 0.5)]],
    "H": [[(0.1, 0.0), (0.1, 1.0)], [(0.9, 0.0), (0.9, 1.0)], [(0.1, 0.5), (0.9, 0.5)]],
    "K": [[(0.15, 0.0), (0.15, 1.0)], [(0.85, 0.0), (0.15, 0.55)], [(0.35, 0.4), (0.9, 1.0)]],
    "M": [[(0.0, 1.0), (0.08, 0.0), (0.5, 0.7), (0.92, 0.0), (1.0, 1.0)]],
    "N": [[(0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0)]],
    "P": [[(0.15, 1.0), *_ARC_P]],
    "R": [[(0.15, 1.0), *_ARC_P], [(0.45, 0.5), (0.9, 1.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.22, 1.0), (0.5, 0.3), (0.78, 1.0), (1.0, 0.0)]],
    "X": [[(0.05, 0.0), (0.95, 1.0)], [(0.95, 0.0), (0.05, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "k": [[(0.2, 0.0), (0.2, 1.0)], [(0.8, 0.4), (0.2, 0.78)], [(0.4, 0.66), (0.85, 1.0)]],
    "v": [[(0.1, 0.35), (0.5, 1.0), (0.9, 0.35)]],
    "w": [[(0.0, 0.35), (0.22, 1.0), (0.5, 0.5), (0.78, 1.0), (1.0, 0.35)]],
    "x": [[(0.1, 0.35), (0.9, 1.0)], [(0.9, 0.35), (0.1, 1.0)]],
}


def _arch(x0: float, x1: float, top: float, bottom: float) -> list[tuple[float, float]]:
    """A hump from (x0, bottom) up over `top` down to (x1, bottom), as in n, m and h."""
    t = np.linspace(np.pi, 0, 9)
    mid, half = (x0 + x1) / 2, (x1 - x0) / 2
    return [(x0, bottom)] + [(mid + half * math.cos(a), top + (1 - math.sin(a)) * 0.2 + 0.0) for a in t] + [(x1, bottom)]


#: Style B, rounded script, held out: its own letters, skeletons written separately (control points of
#: smooth curves), with the exit and entry strokes of joined-up handwriting.
SCRIPT_LETTERS = {
    "A": [[(0.05, 1.0), (0.3, 0.45), (0.5, 0.0), (0.7, 0.45), (0.95, 1.0)], [(0.2, 0.62), (0.5, 0.58), (0.82, 0.62)]],
    "M": [[(0.0, 1.0), (0.05, 0.3), (0.15, 0.0), (0.3, 0.3), (0.5, 0.75), (0.7, 0.3), (0.85, 0.0), (0.95, 0.3), (1.0, 1.0)]],
    "N": [[(0.05, 1.0), (0.1, 0.3), (0.2, 0.0), (0.5, 0.5), (0.8, 1.0), (0.9, 0.7), (0.95, 0.0)]],
    "H": [[(0.15, 0.0), (0.12, 0.5), (0.1, 1.0)], [(0.9, 0.0), (0.88, 0.5), (0.85, 1.0)], [(0.0, 0.55), (0.5, 0.48), (1.0, 0.5)]],
    "W": [[(0.0, 0.0), (0.12, 0.6), (0.25, 1.0), (0.4, 0.55), (0.5, 0.35), (0.6, 0.55), (0.75, 1.0), (0.88, 0.6), (1.0, 0.0)]],
    "m": [[(0.0, 1.0), (0.05, 0.55), (0.15, 0.4), (0.27, 0.55), (0.33, 1.0), (0.38, 0.55), (0.5, 0.4), (0.62, 0.55), (0.67, 1.0), (0.72, 0.55), (0.84, 0.4), (0.95, 0.55), (1.0, 1.0)]],
    "n": [[(0.05, 1.0), (0.1, 0.5), (0.3, 0.35), (0.55, 0.35), (0.75, 0.5), (0.8, 0.8), (0.95, 1.0)]],
    "w": [[(0.0, 0.4), (0.1, 0.85), (0.25, 1.0), (0.45, 0.6), (0.5, 0.5), (0.55, 0.6), (0.75, 1.0), (0.9, 0.85), (1.0, 0.4)]],
    "e": [[(0.05, 0.75), (0.5, 0.62), (0.75, 0.45), (0.6, 0.3), (0.35, 0.4), (0.3, 0.75), (0.5, 0.98), (0.95, 0.85)]],
    "x": [[(0.1, 0.4), (0.35, 0.5), (0.5, 0.7), (0.65, 0.9), (0.9, 1.0)], [(0.85, 0.4), (0.6, 0.55), (0.4, 0.85), (0.15, 1.0)]],
}


def _handwritten(rng: np.random.Generator, letters: dict, smooth: bool) -> tuple[Image.Image, str]:
    letter = str(rng.choice(list(letters)))
    paths = [np.asarray(path, np.float64) for path in letters[letter]]
    jitter = 0.04 if smooth else 0.03
    paths = [path + rng.normal(0, jitter, path.shape) for path in paths]
    if smooth:
        paths = [_catmull_rom(path, 10) for path in paths]
    image, _ = _drawn(rng, paths, angle_range=0.15, wobble=0.008 if smooth else 0.012)
    return image, letter


@_kind("letters, handwritten style A (straight strokes)", "letters", True)
def letters_stroke_a(rng):
    return _handwritten(rng, PRINT_LETTERS, smooth=False)


@_kind("letters, handwritten style B (rounded script)", "letters", False)
def letters_stroke_b(rng):
    return _handwritten(rng, SCRIPT_LETTERS, smooth=True)


# --- noise (held out) ------------------------------------------------------------------------------


@_kind("noise", "noise", False)
def noise(rng):
    width, height = frame_size(rng)
    choice = int(rng.integers(3))
    if choice == 0:  # sensor-like Gaussian noise on a flat or graded ground
        pixels = rng.normal(rng.uniform(60, 200), rng.uniform(10, 60), (height, width))
        tag = "gaussian"
    elif choice == 1:  # salt and pepper specks on paper
        pixels = np.full((height, width), rng.uniform(180, 245))
        specks = rng.random((height, width))
        share = rng.uniform(0.002, 0.05)
        pixels[specks < share] = rng.uniform(0, 80)
        tag = "specks"
    else:  # uniform noise
        pixels = rng.uniform(0, 255, (height, width))
        tag = "uniform"
    return _maybe_jpeg(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), rng), tag


# --- synthetic photos of things (held out) ---------------------------------------------------------


def _smooth_field(rng: np.random.Generator, height: int, width: int, scale: float) -> np.ndarray:
    """Low-pass random field in about [-1, 1]: noise on a coarse grid, enlarged smoothly."""
    h, w = max(2, int(height / scale)), max(2, int(width / scale))
    coarse = rng.normal(0, 1, (h, w)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.BICUBIC))


def _colour_image(base: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float: a wall, a table or grass: a colour, a gradient, smooth variation and grain."""
    colour = rng.uniform(40, 230, 3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = (np.cos(angle) * x / width + np.sin(angle) * y / height - 0.5) * rng.uniform(0, 80)
    field = _smooth_field(rng, height, width, rng.uniform(8, 60)) * rng.uniform(5, 30)
    grain = rng.normal(0, rng.uniform(2, 12), (height, width))
    return colour + (gradient + field + grain)[..., None]


def _paint(pixels: np.ndarray, mask: np.ndarray, colour: np.ndarray, rng: np.random.Generator) -> None:
    """Paint `colour` where mask (H, W) in [0, 1] is, with shading across the object."""
    height, width = mask.shape
    shade = 1 + _smooth_field(rng, height, width, rng.uniform(20, 80)) * 0.15
    pixels *= 1 - mask[..., None]
    pixels += mask[..., None] * colour * shade[..., None]


def _mask(width: int, height: int, draw: Callable[[ImageDraw.ImageDraw], None], blur: float = 0.8) -> np.ndarray:
    image = Image.new("L", (width, height))
    draw(ImageDraw.Draw(image))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(blur)), np.float32) / 255


@_kind("photo: smooth random field", "photos", False)
def photo_field(rng):
    width, height = frame_size(rng)
    channels = [_smooth_field(rng, height, width, rng.uniform(10, 80)) for _ in range(3)]
    mix = rng.uniform(20, 70)
    base = np.stack(channels, axis=-1) * mix + rng.uniform(60, 190, 3)
    base += rng.normal(0, rng.uniform(1, 8), base.shape)
    image = _colour_image(base)
    return _maybe_jpeg(image.convert("L") if rng.random() < 0.3 else image, rng), "field"


@_kind("photo: objects on a table", "photos", False)
def photo_objects(rng):
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    for _ in range(int(rng.integers(2, 9))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.1, 0.5) * height
        shape = int(rng.integers(3))
        if shape == 0:
            mask = _mask(width, height, lambda d: d.rectangle((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), fill=255))
        elif shape == 1:
            mask = _mask(width, height, lambda d: d.ellipse((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), fill=255))
        else:
            pts = [(cx + w * rng.uniform(-0.5, 0.5), cy + h * rng.uniform(-0.5, 0.5)) for _ in range(int(rng.integers(3, 7)))]
            mask = _mask(width, height, lambda d: d.polygon(pts, fill=255))
        _paint(pixels, mask, rng.uniform(0, 255, 3), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    return _maybe_jpeg(image, rng), "objects"


@_kind("photo: animal", "photos", False)
def photo_animal(rng):
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    s = min(width, height) * rng.uniform(0.35, 0.7)  # the body's length
    cx, cy = width / 2 + rng.uniform(-0.15, 0.15) * width, height / 2 + rng.uniform(-0.1, 0.15) * height
    flip = 1 if rng.random() < 0.5 else -1
    leg = s * rng.uniform(0.25, 0.45)

    def body(d):
        d.ellipse((cx - s / 2, cy - s / 5, cx + s / 2, cy + s / 5), fill=255)
        hx, hy, hr = cx + flip * s * 0.55, cy - s * 0.25, s * rng.uniform(0.13, 0.2)
        d.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=255)
        d.polygon([(hx - hr * 0.8, hy - hr * 0.5), (hx - hr * 0.4, hy - hr * 1.7), (hx, hy - hr * 0.7)], fill=255)  # ears
        d.polygon([(hx + hr * 0.8, hy - hr * 0.5), (hx + hr * 0.4, hy - hr * 1.7), (hx, hy - hr * 0.7)], fill=255)
        d.line([(cx + flip * s * 0.3, cy - s * 0.1), (hx, hy)], fill=255, width=max(2, int(s * 0.15)))  # neck
        for lx in (-0.35, -0.2, 0.2, 0.35):
            d.line([(cx + lx * s, cy + s * 0.1), (cx + lx * s + rng.uniform(-0.05, 0.05) * s, cy + s * 0.1 + leg)], fill=255, width=max(2, int(s * 0.06)))
        d.line([(cx - flip * s * 0.48, cy - s * 0.05), (cx - flip * s * 0.7, cy - s * rng.uniform(-0.1, 0.3))], fill=255, width=max(2, int(s * 0.04)))  # tail

    _paint(pixels, _mask(width, height, body), rng.uniform(20, 200, 3) * np.array([1.0, 0.85, 0.7]), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), "animal"


@_kind("photo: face", "photos", False)
def photo_face(rng):
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    fw = min(width, height) * rng.uniform(0.35, 0.6)
    fh = fw * rng.uniform(1.2, 1.45)
    cx, cy = width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.05, 0.15) * height
    hair = rng.uniform(10, 120, 3)
    _paint(pixels, _mask(width, height, lambda d: d.ellipse((cx - fw * 0.58, cy - fh * 0.6, cx + fw * 0.58, cy + fh * 0.2), fill=255)), hair, rng)
    _paint(pixels, _mask(width, height, lambda d: d.rectangle((cx - fw * 0.25, cy + fh * 0.3, cx + fw * 0.25, height), fill=255)), rng.uniform(40, 220, 3), rng)  # neck and shirt
    skin = np.array([rng.uniform(120, 240), 0, 0])
    skin[1], skin[2] = skin[0] * rng.uniform(0.7, 0.85), skin[0] * rng.uniform(0.55, 0.7)
    _paint(pixels, _mask(width, height, lambda d: d.ellipse((cx - fw / 2, cy - fh / 2, cx + fw / 2, cy + fh / 2), fill=255)), skin, rng)
    feature = skin * 0.35

    def features(d):
        for side in (-1, 1):
            ex, ey, er = cx + side * fw * 0.2, cy - fh * 0.08, fw * 0.07
            d.ellipse((ex - er, ey - er * 0.6, ex + er, ey + er * 0.6), fill=255)
        d.line([(cx, cy - fh * 0.02), (cx - fw * 0.04, cy + fh * 0.12)], fill=160, width=max(1, int(fw * 0.025)))
        d.arc((cx - fw * 0.18, cy + fh * 0.1, cx + fw * 0.18, cy + fh * 0.3), 20, 160, fill=255, width=max(1, int(fw * 0.03)))

    _paint(pixels, _mask(width, height, features, 0.6), feature, rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image.convert("L") if rng.random() < 0.25 else image, rng), "face"


@_kind("photo: one object (cup, bottle, box, key)", "photos", False)
def photo_object(rng):
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    s = min(width, height) * rng.uniform(0.4, 0.8)
    cx, cy = width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.1, 0.1) * height
    choice = int(rng.integers(4))

    def cup(d):
        d.rectangle((cx - s * 0.3, cy - s * 0.4, cx + s * 0.3, cy + s * 0.4), fill=255)
        d.ellipse((cx + s * 0.2, cy - s * 0.2, cx + s * 0.55, cy + s * 0.2), outline=255, width=max(2, int(s * 0.07)))

    def bottle(d):
        d.rounded_rectangle((cx - s * 0.2, cy - s * 0.15, cx + s * 0.2, cy + s * 0.5), radius=s * 0.08, fill=255)
        d.polygon([(cx - s * 0.2, cy - s * 0.15), (cx - s * 0.07, cy - s * 0.32), (cx + s * 0.07, cy - s * 0.32), (cx + s * 0.2, cy - s * 0.15)], fill=255)
        d.rectangle((cx - s * 0.07, cy - s * 0.5, cx + s * 0.07, cy - s * 0.3), fill=255)

    def box(d):
        d.polygon([(cx - s * 0.4, cy - s * 0.1), (cx, cy - s * 0.35), (cx + s * 0.45, cy - s * 0.15), (cx + s * 0.45, cy + s * 0.35), (cx, cy + s * 0.5), (cx - s * 0.4, cy + s * 0.3)], fill=255)

    def key(d):
        r = s * 0.18
        d.ellipse((cx - s * 0.45, cy - r, cx - s * 0.45 + 2 * r, cy + r), outline=255, width=max(2, int(s * 0.08)))
        d.rectangle((cx - s * 0.45 + 2 * r, cy - s * 0.04, cx + s * 0.45, cy + s * 0.04), fill=255)
        for tx in (0.25, 0.38):
            d.rectangle((cx + s * tx, cy, cx + s * (tx + 0.06), cy + s * 0.14), fill=255)

    draw = (cup, bottle, box, key)[choice]
    _paint(pixels, _mask(width, height, draw), rng.uniform(0, 255, 3), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), ("cup", "bottle", "box", "key")[choice]


# --- added after the first build was measured (2026-12-02) -----------------------------------------
# Two training kinds near what that build missed most (a filled lightning bolt, photos: no photo was
# in training), and three fresh held-out kinds, drawn after that measurement and never looked at
# before the next build's: `LATE_HELD_OUT`, summed apart, so that the never-seen numbers of the kinds
# measured before (which the new training kinds were chosen against) are not the only evidence.

#: Held-out kinds added after the first build was measured.
LATE_HELD_OUT = ("envelope", "bicycle", "photo: windows of a building")


@_kind("filled polygons and blobs", "shapes", True)
def filled_polygons(rng):
    """A filled irregular polygon (6-12 corners, concave) or a zigzag band: a silhouette."""
    if rng.random() < 0.5:
        n = int(rng.integers(6, 13))
        low = rng.uniform(0.3, 0.6)  # concave: a convex blob at 28x28 is a blot, which a thick 0 can be
        pts = _polygon(n, lambda k: rng.uniform(low, 1.0), rng.uniform(0, 2 * np.pi))
        tag = "polygon"
    else:  # a broad band zigzagging 4 times, filled (a thin or straight one is a 1, fewer turns a Z or 2)
        turns = 4
        ups = np.where(np.arange(turns + 1) % 2 == 0, rng.uniform(0.05, 0.35, turns + 1), rng.uniform(0.65, 0.95, turns + 1))
        spine = np.stack([np.linspace(0, 1, turns + 1), ups], axis=1)
        half = rng.uniform(0.1, 0.18)
        pts = np.vstack([spine + [0, -half], (spine + [0, half])[::-1]])
        pts = np.vstack([pts, pts[:1]])
        tag = "band"
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame)
    canvas = Canvas(*frame)
    pts = _transform(pts, cx, cy, size, rng.uniform(-math.pi, math.pi), rng.uniform(-0.2, 0.2), rng.uniform(0.7, 1.3))
    canvas.fill([tuple(p) for p in _wobble(pts, rng, 0.01 * size, max(1.0, size / 60))])
    cover = canvas.cover()
    if rng.random() < SHADED_ODDS:
        cover *= _shading(rng, cover.shape)
    return on_paper(cover, rng), tag


@_kind("photo: textured surfaces (wood, stones, fabric, leaves)", "photos", True)
def photo_surface(rng):
    """A close photo of a surface: wood grain, pebbles, a checked fabric or fallen leaves, in colour."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    choice = int(rng.integers(4))
    if choice == 0:  # wood grain: wavy stripes
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        wave = _smooth_field(rng, height, width, rng.uniform(20, 60)) * rng.uniform(5, 20)
        grain = np.sin((y + wave) / rng.uniform(3, 12) * 2 * np.pi)
        pixels *= (1 + 0.25 * grain)[..., None]
    elif choice == 1:  # pebbles: many small ellipses
        for _ in range(int(rng.integers(15, 60))):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(0.03, 0.12) * min(width, height)
            box = (cx - r, cy - r * rng.uniform(0.6, 1), cx + r, cy + r * rng.uniform(0.6, 1))
            _paint(pixels, _mask(width, height, lambda d: d.ellipse(box, fill=255)), rng.uniform(40, 220, 3), rng)
    elif choice == 2:  # checked fabric
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        period = rng.uniform(8, 40)
        checks = ((x // period + y // period) % 2).astype(np.float32)
        pixels = pixels * (1 - checks[..., None]) + checks[..., None] * rng.uniform(20, 235, 3)
    else:  # fallen leaves: turned ellipses with a midrib
        for _ in range(int(rng.integers(6, 25))):
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            length = rng.uniform(0.1, 0.3) * min(width, height)
            angle = rng.uniform(0, math.pi)
            outline = _transform(_circle(0.5, 0.5, 0.5, 0.2), cx, cy, length, angle)
            _paint(pixels, _mask(width, height, lambda d: d.polygon([tuple(p) for p in outline], fill=255)),
                   rng.uniform(30, 200, 3) * np.array([1.0, 0.9, 0.4]), rng)  # fmt: skip
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image.convert("L") if rng.random() < 0.25 else image, rng), ("wood", "pebbles", "fabric", "leaves")[choice]


@_kind("envelope", "shapes", False)
def envelope(rng):
    top = rng.uniform(0.15, 0.3)
    paths = [np.array([[0, top], [1, top], [1, 0.85], [0, 0.85], [0, top]]), np.array([[0, top], [0.5, rng.uniform(0.5, 0.65)], [1, top]])]
    return _drawn(rng, paths, angle_range=0.3)


@_kind("bicycle", "shapes", False)
def bicycle(rng):
    r = rng.uniform(0.17, 0.22)
    paths = [_circle(0.22, 0.7, r), _circle(0.78, 0.7, r),
             np.array([[0.22, 0.7], [0.45, 0.7], [0.7, 0.4], [0.35, 0.4], [0.22, 0.7]]), np.array([[0.7, 0.4], [0.78, 0.7]]),
             np.array([[0.35, 0.4], [0.32, 0.3]]), np.array([[0.66, 0.3], [0.74, 0.3]])]  # fmt: skip
    return _drawn(rng, paths, angle_range=0.2)


@_kind("photo: windows of a building", "photos", False)
def photo_windows(rng):
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    columns, rows = int(rng.integers(2, 6)), int(rng.integers(2, 5))
    glass = rng.uniform(20, 120, 3) * np.array([0.8, 0.9, 1.1])
    frame_colour = rng.uniform(150, 250, 3)
    for row in range(rows):
        for column in range(columns):
            cell_w, cell_h = width / columns, height / rows
            left, top = column * cell_w + cell_w * 0.2, row * cell_h + cell_h * 0.15
            box = (left, top, left + cell_w * 0.6, top + cell_h * 0.7)
            _paint(pixels, _mask(width, height, lambda d: d.rectangle(box, fill=255)), frame_colour, rng)
            inner = (box[0] + cell_w * 0.05, box[1] + cell_h * 0.05, box[2] - cell_w * 0.05, box[3] - cell_h * 0.05)
            _paint(pixels, _mask(width, height, lambda d: d.rectangle(inner, fill=255)), glass, rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), f"{columns}x{rows}"


# --- added 2026-12-03, before any measurement of them -----------------------------------------------
# Three more held-out kinds, written and committed before the shipped detector was first measured on
# them and measured once (`FRESH_HELD_OUT`, summed apart): the other never-seen kinds have been
# measured several times while the detector changed, so they are no longer a clean test on their own.

#: Held-out kinds added on 2026-12-03, measured once.
FRESH_HELD_OUT = ("letters of other scripts (Greek, Cyrillic)", "music notes", "photo: fruit on a plate")

#: Greek and Cyrillic letters that look neither like a digit nor like a Latin letter left out above:
#: not Б б З з Э э Ч ч О о С с (6, 3, 4, 0), ε ς σ ο θ ζ ξ δ β (3, 6, 0, 2, 8), Γ Г Τ (a 7 or its
#: mirror), μ (an open 4), φ Ф (a crossed 0).
OTHER_SCRIPT_LETTERS = "ΔΛΞΠΣΨΩλπψω" + "ДЖИЛПШЩЮЯжилпшщюя"


@_kind("letters of other scripts (Greek, Cyrillic)", "letters", False)
def letters_other_scripts(rng):
    """One printed Greek or Cyrillic letter, DejaVu Sans or Serif (both fonts hold them)."""
    letter = str(rng.choice(list(OTHER_SCRIPT_LETTERS)))
    name = str(rng.choice(FONTS_A + FONTS_B))
    return on_paper(_typeset(rng, letter, name).cover(), rng), f"{letter} {name.removesuffix('.ttf')}"


@_kind("music notes", "shapes", False)
def music_notes(rng):
    """One eighth note (a filled, tilted oval head, a stem and a flag) or two joined by a beam."""
    frame = frame_size(rng)
    cx, cy, size = _placement(rng, frame)
    canvas = Canvas(*frame)
    pen = _pen(rng, size)
    slant, angle = rng.uniform(-0.1, 0.1), rng.uniform(-0.2, 0.2)
    heads = [(0.3, 0.85)] if rng.random() < 0.5 else [(0.15, 0.85), (0.7, rng.uniform(0.7, 0.9))]
    tops = []
    for hx, hy in heads:
        head = np.array([(hx + 0.13 * np.cos(t) * np.cos(0.4) - 0.08 * np.sin(t) * np.sin(0.4),
                          hy + 0.13 * np.cos(t) * np.sin(-0.4) + 0.08 * np.sin(t) * np.cos(0.4)) for t in np.linspace(0, 2 * np.pi, 24)])  # fmt: skip
        canvas.fill([tuple(p) for p in _transform(head, cx, cy, size, angle, slant)])
        stem = np.array([[hx + 0.12, hy - 0.04], [hx + 0.12, hy - 0.75]])
        canvas.stroke([tuple(p) for p in _transform(stem, cx, cy, size, angle, slant)], pen)
        tops.append(stem[1])
    if len(heads) == 1:
        flag = np.array([tops[0], tops[0] + [0.12, 0.15], tops[0] + [0.22, 0.3], tops[0] + [0.15, 0.45]])
        canvas.stroke([tuple(p) for p in _wobble(_transform(flag, cx, cy, size, angle, slant), rng, 0.01 * size, max(1.0, size / 60))], pen)
        tag = "eighth note"
    else:
        beam = np.array([tops[0], tops[1], tops[1] + [0, 0.08], tops[0] + [0, 0.08]])
        canvas.fill([tuple(p) for p in _transform(beam, cx, cy, size, angle, slant)])
        tag = "two beamed notes"
    return on_paper(canvas.cover(), rng), tag


@_kind("photo: fruit on a plate", "photos", False)
def photo_fruit(rng):
    """A plate seen from above at a slant (a light ellipse with a rim) holding 2-5 round fruits."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    px, py = width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.1, 0.1) * height
    rx, ry = rng.uniform(0.3, 0.45) * width, rng.uniform(0.2, 0.4) * height
    _paint(pixels, _mask(width, height, lambda d: d.ellipse((px - rx, py - ry, px + rx, py + ry), fill=255)), rng.uniform(200, 250, 3), rng)
    _paint(pixels, _mask(width, height, lambda d: d.ellipse((px - rx * 0.8, py - ry * 0.8, px + rx * 0.8, py + ry * 0.8), fill=255)),
           rng.uniform(215, 255, 3), rng)  # fmt: skip
    count = int(rng.integers(2, 6))
    for _ in range(count):
        r = rng.uniform(0.12, 0.25) * min(rx, ry) * 2
        fx, fy = px + rng.uniform(-0.5, 0.5) * rx, py + rng.uniform(-0.5, 0.5) * ry
        colour = np.array([rng.uniform(150, 255), rng.uniform(20, 200), rng.uniform(0, 60)])[rng.permutation(3) if rng.random() < 0.3 else [0, 1, 2]]
        _paint(pixels, _mask(width, height, lambda d: d.ellipse((fx - r, fy - r, fx + r, fy + r), fill=255)), colour, rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), f"{count} fruits"


# --- added 2026-12-03, second set ------------------------------------------------------------------
# Three more held-out kinds, written and committed before any detector was measured on them
# (`FRESH_HELD_OUT_2`, summed apart). Two training kinds written with them (printed symbols and letters
# of other scripts, photos of things in colour) were tried on development data and not taken
# (docs/benchmarks.md); their code is in the project's history (commit 7076e12).

#: A glyph that the pretrained digit model reads as one digit at this calibrated probability or more,
#: drawn plainly, is left out as digit-like (as `DIGIT_LIKE_LETTERS` are for Latin letters), and so is
#: a glyph whose ink is a bar (`BAR_ASPECT` times longer than wide: a 1 at 28x28).
DIGIT_LIKE_CONFIDENCE = 0.95
BAR_ASPECT = 3.0


def _cover_of_glyph(character: str, font) -> np.ndarray:
    """A glyph drawn plainly in white on black, as a float coverage array."""
    canvas = Image.new("L", (240, 240))
    ImageDraw.Draw(canvas).text((40, 20), character, fill=255, font=font)
    return np.asarray(canvas, np.float32) / 255


@functools.cache
def glyphs(fonts: tuple[str, ...], blocks: tuple[tuple[int, int], ...], left_out: frozenset = frozenset(),
           digit_like: float = DIGIT_LIKE_CONFIDENCE) -> tuple[tuple[str, str], ...]:  # fmt: skip
    """(character, font file) pairs of `blocks` that each font holds: letters, signs and punctuation (no
    digits, marks or spaces), without those in `left_out`, bars, and those the pretrained digit model
    reads as a digit (at `digit_like` or more) when drawn plainly in that font."""
    import unicodedata

    from fontTools.ttLib import TTFont

    import mnist_toolkit
    from mnist_toolkit import load_model
    from mnist_toolkit.reading.prepare import fit_digit

    candidates, drawn = [], []
    for name in fonts:
        font = _font(name, 112)
        held = TTFont(font.path, lazy=True).getBestCmap()
        for low, high in blocks:
            for code in range(low, high + 1):
                character = chr(code)
                if code not in held or code in left_out or unicodedata.category(character)[0] not in "LSP":
                    continue
                cover = _cover_of_glyph(character, font)
                rows, columns = np.flatnonzero(cover.max(axis=1) > 0.5), np.flatnonzero(cover.max(axis=0) > 0.5)
                if (cover > 0.5).sum() < 30:  # a dot or a hairline: nothing a reading would keep
                    continue
                tall, wide = rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1
                if max(tall, wide) >= BAR_ASPECT * min(tall, wide):
                    continue
                candidates.append((character, name))
                drawn.append((fit_digit(cover) * 255).round().astype(np.uint8))
    if not candidates:
        return ()
    model = load_model(Path(mnist_toolkit.__file__).parent / "pretrained" / "robust.onnx", not_a_digit=False)
    like_a_digit = model.predict_proba(np.stack(drawn)).max(axis=1) >= digit_like
    return tuple(pair for pair, like in zip(candidates, like_a_digit) if not like)


def _printed_glyph(rng: np.random.Generator, pool: tuple[tuple[str, str], ...]) -> tuple[Image.Image, str]:
    """One glyph of `pool` printed on paper, as `_printed` prints a letter, named by its code point."""
    character, name = pool[int(rng.integers(len(pool)))]
    image, _ = _print_on_paper(rng, character, name)
    return image, f"U+{ord(character):04X} {name.removesuffix('.ttf')}"


#: Held-out kinds of the second set of 2026-12-03.
FRESH_HELD_OUT_2 = ("letters of Georgian and Lao scripts", "scissors", "photo: a chair and a lamp in a room")

#: The Georgian (capitals, Mkhedruli) and Lao blocks.
GEORGIAN_LAO_BLOCKS = ((0x10A0, 0x10FF), (0x0E81, 0x0EDF))

#: Georgian letters that look like a digit in some face and that the rule of `glyphs` keeps: ბ (6),
#: ე (a turned 3), ვ ზ ჰ ჳ (3).
GEORGIAN_LEFT_OUT = frozenset(map(ord, "ბევზჰჳ"))


def _printed_letters(name: str, blocks: tuple[tuple[int, int], ...], left_out: frozenset = frozenset()) -> None:
    """Register a held-out kind of printed glyphs: one of `blocks` in a DejaVu Sans or Serif face (those
    that hold it), without bars, those the pretrained digit model reads as a digit when drawn plainly
    (`glyphs`) and `left_out`."""
    _kind(name, "letters", False)(lambda rng: _printed_glyph(rng, glyphs(FONTS_A + FONTS_B, blocks, left_out)))


_printed_letters("letters of Georgian and Lao scripts", GEORGIAN_LAO_BLOCKS, GEORGIAN_LEFT_OUT)


@_kind("scissors", "shapes", False)
def scissors(rng):
    """Open scissors: two finger rings and two blades crossing at a pivot."""
    spread = rng.uniform(0.15, 0.35)
    ring = rng.uniform(0.1, 0.14)
    paths = [_circle(0.2, 0.5 - spread, ring), _circle(0.2, 0.5 + spread, ring),
             np.array([[0.2 + ring, 0.5 - spread + ring * 0.3], [0.5, 0.5], [1.0, 0.5 + spread * 0.5], [0.55, 0.52]]),
             np.array([[0.2 + ring, 0.5 + spread - ring * 0.3], [0.5, 0.5], [1.0, 0.5 - spread * 0.5], [0.55, 0.48]])]  # fmt: skip
    return _drawn(rng, paths, angle_range=math.pi)


@_kind("photo: a chair and a lamp in a room", "photos", False)
def photo_room(rng):
    """A wall above a floor, a chair (seat, back, legs) and sometimes a floor lamp beside it."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    horizon = int(height * rng.uniform(0.5, 0.75))
    pixels[horizon:] = _background(rng, width, height)[horizon:] * rng.uniform(0.5, 0.9)
    colour = rng.uniform(20, 200, 3)
    s = min(width, height) * rng.uniform(0.35, 0.6)
    cx = width * rng.uniform(0.3, 0.7)
    seat = horizon - s * 0.1
    facing = 1 if rng.random() < 0.5 else -1
    leg = max(2.0, s * 0.05)

    def chair(d):
        d.rectangle((cx - s * 0.3, seat - s * 0.08, cx + s * 0.3, seat), fill=255)
        back = cx - facing * s * 0.3
        d.rectangle((min(back, back + facing * s * 0.08), seat - s * 0.6, max(back, back + facing * s * 0.08), seat), fill=255)
        for x in (cx - s * 0.28, cx + s * 0.28 - leg):
            d.rectangle((x, seat, x + leg, seat + s * 0.4), fill=255)

    _paint(pixels, _mask(width, height, chair), colour, rng)
    with_lamp = rng.random() < 0.6
    if with_lamp:
        lx = cx + facing * s * rng.uniform(0.6, 0.9)

        def lamp(d):
            d.polygon([(lx - s * 0.12, horizon - s * 1.0), (lx + s * 0.12, horizon - s * 1.0), (lx + s * 0.2, horizon - s * 0.8),
                       (lx - s * 0.2, horizon - s * 0.8)], fill=255)  # fmt: skip
            d.rectangle((lx - leg / 2, horizon - s * 0.8, lx + leg / 2, horizon + s * 0.2), fill=255)
            d.ellipse((lx - s * 0.12, horizon + s * 0.15, lx + s * 0.12, horizon + s * 0.25), fill=255)

        _paint(pixels, _mask(width, height, lamp), rng.uniform(150, 255, 3), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), "chair and lamp" if with_lamp else "chair"



# --- added 2026-12-03, third set --------------------------------------------------------------------
# Three more held-out kinds, written and committed before the detector that reads the context view
# was measured on them (`FRESH_HELD_OUT_3`, summed apart): the other never-seen kinds have all been
# measured before that detector was chosen.

#: Held-out kinds of the third set of 2026-12-03.
FRESH_HELD_OUT_3 = ("printed signs (& @ % § ¶ ? ! ...)", "anchor", "photo: a car on a street")

#: Signs of the third set, printed in the DejaVu faces; those the pretrained digit model reads as a
#: digit drawn plainly are left out by `glyphs`' rule.
SIGNS = "&@%§¶?!*~©®€£¥¢¤µ¬"


_printed_letters("printed signs (& @ % § ¶ ? ! ...)", tuple((ord(c), ord(c)) for c in SIGNS))


@_kind("anchor", "shapes", False)
def anchor(rng):
    """A ship's anchor: a ring, a shaft with a crossbar, and two curved arms ending in flukes."""
    arms = np.array([(0.5 + 0.38 * np.cos(t), 0.62 + 0.3 * np.sin(t)) for t in np.linspace(0.15 * np.pi, 0.85 * np.pi, 24)])
    paths = [_circle(0.5, 0.1, 0.07), np.array([[0.5, 0.17], [0.5, 0.92]]), np.array([[0.3, 0.3], [0.7, 0.3]]), arms,
             np.array([arms[0], arms[0] + [0.06, -0.1]]), np.array([arms[-1], arms[-1] + [-0.06, -0.1]])]  # fmt: skip
    return _drawn(rng, paths, angle_range=0.4)


@_kind("photo: a car on a street", "photos", False)
def photo_car(rng):
    """A car seen from the side (body, cabin with windows, two dark wheels) on a road under a sky or
    in front of a wall."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    road = int(height * rng.uniform(0.6, 0.8))
    pixels[road:] = rng.uniform(60, 140) + 0.3 * _background(rng, width, height)[road:]
    length = width * rng.uniform(0.55, 0.9)
    x0 = (width - length) * rng.uniform(0.2, 0.8)
    body_h = length * rng.uniform(0.18, 0.25)
    wheel = body_h * rng.uniform(0.45, 0.6)
    bottom = road - wheel * 0.4
    colour = rng.uniform(0, 255, 3)

    def body(d):
        d.rounded_rectangle((x0, bottom - body_h, x0 + length, bottom), radius=body_h * 0.3, fill=255)
        d.polygon([(x0 + length * 0.22, bottom - body_h), (x0 + length * 0.32, bottom - body_h * 1.9),
                   (x0 + length * 0.7, bottom - body_h * 1.9), (x0 + length * 0.82, bottom - body_h)], fill=255)  # fmt: skip

    def windows(d):
        d.polygon([(x0 + length * 0.27, bottom - body_h * 1.05), (x0 + length * 0.34, bottom - body_h * 1.75),
                   (x0 + length * 0.49, bottom - body_h * 1.75), (x0 + length * 0.49, bottom - body_h * 1.05)], fill=255)  # fmt: skip
        d.polygon([(x0 + length * 0.52, bottom - body_h * 1.05), (x0 + length * 0.52, bottom - body_h * 1.75),
                   (x0 + length * 0.68, bottom - body_h * 1.75), (x0 + length * 0.77, bottom - body_h * 1.05)], fill=255)  # fmt: skip

    def wheels(d):
        for cx in (x0 + length * 0.2, x0 + length * 0.8):
            d.ellipse((cx - wheel, bottom - wheel * 0.6, cx + wheel, bottom + wheel * 1.4), fill=255)

    _paint(pixels, _mask(width, height, body), colour, rng)
    _paint(pixels, _mask(width, height, windows), rng.uniform(120, 220, 3) * np.array([0.8, 0.9, 1.0]), rng)
    _paint(pixels, _mask(width, height, wheels), rng.uniform(10, 40, 3), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), "car"


# --- added 2026-12-03, fourth set -------------------------------------------------------------------
# Three more held-out kinds, written and committed before any detector was measured on them
# (`FRESH_HELD_OUT_4`, summed apart): every other never-seen kind has been measured at least once.

#: Held-out kinds of the fourth set of 2026-12-03.
FRESH_HELD_OUT_4 = ("handwritten words (two to four letters)", "light bulb", "photo: a potted plant")

#: Short words written with the rounded-script letters (`SCRIPT_LETTERS`): no digit-like letter in them.
WORDS = ("Amen", "Hew", "Anne", "Mew", "new", "men", "ewe", "Wen", "me", "we", "He", "Ax", "HAM", "MAN", "HAW", "NAW")


@_kind("handwritten words (two to four letters)", "letters", False)
def handwritten_words(rng):
    """A short word joined up in the rounded script of style B: its letters side by side, each a
    little jittered, all drawn with one pen and one slant."""
    word = str(rng.choice(WORDS))
    step = 1.0 / len(word)
    paths = []
    for i, letter in enumerate(word):
        small = letter.islower()
        for path in SCRIPT_LETTERS[letter]:
            path = np.asarray(path, np.float64) + rng.normal(0, 0.035, (len(path), 2))
            path[:, 0] = (i + 0.1 + 0.8 * path[:, 0]) * step
            path[:, 1] = 0.35 + (0.45 if small else 0.3) * path[:, 1] * (1.0 if small else 0.95) + (0.0 if small else -0.13)
            paths.append(_catmull_rom(path, 10))
    image, _ = _drawn(rng, paths, angle_range=0.12, wobble=0.005)
    return image, word


@_kind("light bulb", "shapes", False)
def light_bulb(rng):
    """A light bulb: a round glass narrowing to a neck, a threaded base, sometimes rays around it."""
    t = np.linspace(0.72 * np.pi, 2.28 * np.pi, 40)
    glass = np.stack([0.5 + 0.3 * np.cos(t), 0.38 + 0.3 * np.sin(t)], axis=1)
    neck_left, neck_right = glass[0], glass[-1]
    paths = [np.vstack([[0.4, 0.8], neck_left, glass[1:-1], neck_right, [0.6, 0.8]]),
             np.array([[0.4, 0.8], [0.6, 0.8]]), np.array([[0.41, 0.86], [0.59, 0.86]]), np.array([[0.42, 0.92], [0.58, 0.92]]),
             np.array([[0.46, 0.98], [0.54, 0.98]])]  # fmt: skip
    if rng.random() < 0.5:
        for angle in np.linspace(-0.9 * np.pi, -0.1 * np.pi, 5):
            paths.append(np.array([[0.5 + 0.38 * np.cos(angle), 0.38 + 0.38 * np.sin(angle)], [0.5 + 0.48 * np.cos(angle), 0.38 + 0.48 * np.sin(angle)]]))
    if rng.random() < 0.4:  # the filament
        paths.append(np.array([[0.45, 0.78], [0.45, 0.5], [0.48, 0.42], [0.52, 0.5], [0.55, 0.42], [0.55, 0.78]]))
    return _drawn(rng, paths, angle_range=0.3)


@_kind("photo: a potted plant", "photos", False)
def photo_plant(rng):
    """A flower pot (a trapezoid with a rim) on a table or floor, green leaves fanning out above it,
    in front of a wall."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    floor = int(height * rng.uniform(0.65, 0.9))
    pixels[floor:] = _background(rng, width, height)[floor:] * rng.uniform(0.5, 0.9)
    s = min(width, height) * rng.uniform(0.3, 0.5)
    cx = width * rng.uniform(0.3, 0.7)
    top = floor - s * 0.6

    def pot(d):
        d.polygon([(cx - s * 0.35, top), (cx + s * 0.35, top), (cx + s * 0.25, floor), (cx - s * 0.25, floor)], fill=255)
        d.rectangle((cx - s * 0.4, top - s * 0.1, cx + s * 0.4, top), fill=255)

    _paint(pixels, _mask(width, height, pot), np.array([rng.uniform(120, 220), rng.uniform(50, 120), rng.uniform(20, 80)]), rng)
    leaves = int(rng.integers(4, 10))
    for _ in range(leaves):
        angle = rng.uniform(-2.6, -0.5)
        length = s * rng.uniform(0.5, 1.1)
        tip = (cx + np.cos(angle) * length, top - s * 0.1 + np.sin(angle) * length)
        mid = ((cx + tip[0]) / 2, (top - s * 0.1 + tip[1]) / 2)
        half = length * rng.uniform(0.12, 0.22)
        normal = (-np.sin(angle) * half, np.cos(angle) * half)
        leaf = [(cx, top - s * 0.1), (mid[0] + normal[0], mid[1] + normal[1]), tip, (mid[0] - normal[0], mid[1] - normal[1])]
        _paint(pixels, _mask(width, height, lambda d, leaf=leaf: d.polygon(leaf, fill=255)),
               np.array([rng.uniform(10, 80), rng.uniform(80, 180), rng.uniform(10, 70)]), rng)  # fmt: skip
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), f"{leaves} leaves"



# --- added 2026-12-03, fifth set --------------------------------------------------------------------
# Three more held-out kinds, written and committed before any detector was measured on them
# (`FRESH_HELD_OUT_5`, summed apart), and before the training glyphs of the sixth build were chosen.

#: Held-out kinds of the fifth set of 2026-12-03.
FRESH_HELD_OUT_5 = ("letters of Armenian and Hebrew scripts", "teacup", "photo: a bookshelf")

#: The Armenian capitals and small letters and the Hebrew letters (no punctuation).
ARMENIAN_HEBREW_BLOCKS = ((0x0531, 0x0556), (0x0561, 0x0587), (0x05D0, 0x05EA))

#: Letters that look like a digit, by the rules of `DIGIT_LIKE_LETTERS`, that the rule of `glyphs`
#: keeps, chosen from the plain drawings before any measurement: U shapes (Ս ս, an open 4), L shapes
#: and hooks (Լ ւ յ, Hebrew ז י: a 1), q shapes (գ զ ց: a 9), 2 shapes (Չ Ջ Ձ չ ջ ձ), Ց (a 3 or an 8).
ARMENIAN_HEBREW_LEFT_OUT = frozenset(map(ord, "ՍսԼւյգզցՉՋՁչջձՑזי"))


_printed_letters("letters of Armenian and Hebrew scripts", ARMENIAN_HEBREW_BLOCKS, ARMENIAN_HEBREW_LEFT_OUT)


@_kind("teacup", "shapes", False)
def teacup(rng):
    """A teacup seen from the side: a bowl with a rim, a handle on one side, a saucer under it, and
    sometimes steam rising."""
    t = np.linspace(0, np.pi, 24)
    bowl = np.stack([0.5 + 0.3 * np.cos(t), 0.45 + 0.3 * np.sin(t)], axis=1)  # the lower half of a round bowl
    handle_t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 16)
    side = 1.0 if rng.random() < 0.7 else -1.0
    handle = np.stack([0.5 + side * (0.27 + 0.12 * np.cos(handle_t)), 0.58 + 0.1 * np.sin(handle_t)], axis=1)
    paths = [np.vstack([[0.2, 0.45], [0.8, 0.45]]), bowl, handle, np.array([[0.1, 0.8], [0.9, 0.8]])]
    if rng.random() < 0.5:
        for x in (0.4, 0.55)[: int(rng.integers(1, 3))]:
            y = np.linspace(0.38, 0.12, 12)
            paths.append(np.stack([x + 0.04 * np.sin(y * 40), y], axis=1))
    return _drawn(rng, paths, angle_range=0.2)


@_kind("photo: a bookshelf", "photos", False)
def photo_bookshelf(rng):
    """Shelves of books: rows of upright spines of many colours and widths, some leaning, between
    dark shelf boards, in a wall's light."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height) * rng.uniform(0.4, 0.8)
    rows = int(rng.integers(1, 4))
    row_height = height / rows
    board = max(3.0, row_height * rng.uniform(0.06, 0.12))
    books = 0
    for row in range(rows):
        bottom = (row + 1) * row_height - board
        x = rng.uniform(-10, width * 0.1)
        while x < width:
            spine = rng.uniform(0.03, 0.09) * width
            top = bottom - row_height * rng.uniform(0.55, 0.9)
            lean = rng.uniform(-0.3, 0.3) * spine if rng.random() < 0.15 else 0.0
            corners = [(x, bottom), (x + spine, bottom), (x + spine + lean, top), (x + lean, top)]
            _paint(pixels, _mask(width, height, lambda d, c=corners: d.polygon(c, fill=255)), rng.uniform(20, 230, 3), rng)
            books += 1
            x += spine + rng.uniform(0, 0.02) * width
        shelf = (0, bottom, width, bottom + board)
        _paint(pixels, _mask(width, height, lambda d, s=shelf: d.rectangle(s, fill=255)), rng.uniform(40, 140, 3) * np.array([1.0, 0.8, 0.6]), rng)
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.0)))
    return _maybe_jpeg(image, rng), f"{books} books on {rows} shelves"



# --- added 2026-12-03, training kinds of the sixth build ---------------------------------------------
# Two more training kinds, chosen after the fifth held-out set was written and committed: printed
# glyphs of scripts and symbol blocks no held-out kind uses, and more drawn things. They are kept
# away from every held-out kind: no Latin, Greek, Cyrillic, Georgian, Lao, Armenian or Hebrew letter,
# no sign of Latin-1 or the currency block (the printed signs), no serif face (font set B), none of
# the misc-symbols or dingbats blocks (they hold scissors, an envelope, an anchor, notes, a bolt), and
# no doodle of a held-out thing (a heart, a face, a house, a flower, a bulb, a teacup, a grid).

#: The blocks of the printed training glyphs, each drawn as often: (name, ((first, last), ...)).
TRAINING_GLYPH_BLOCKS = (
    ("Canadian syllabics", ((0x1400, 0x167F),)),
    ("Tifinagh", ((0x2D30, 0x2D7F),)),
    ("N'Ko", ((0x07C0, 0x07FF),)),
    ("Arabic letters", ((0x0621, 0x064A),)),
    ("mathematical operators", ((0x2200, 0x22FF),)),
    ("technical signs", ((0x2300, 0x23FF),)),
    ("geometric shapes", ((0x25A0, 0x25FF),)),
    ("arrows", ((0x2190, 0x21FF),)),
    ("hexagrams", ((0x4DC0, 0x4DFF),)),
)


@_kind("printed glyphs of other scripts and symbol blocks", "letters", True)
def printed_training_glyphs(rng):
    """A printed glyph of one of `TRAINING_GLYPH_BLOCKS` (a block at random, then a glyph) in a DejaVu
    Sans face (font set A), by the rule of `glyphs`: no bars, none the digit model reads as a digit."""
    name, blocks = TRAINING_GLYPH_BLOCKS[int(rng.integers(len(TRAINING_GLYPH_BLOCKS)))]
    image, tag = _printed_glyph(rng, glyphs(FONTS_A, blocks))
    return image, f"{name}: {tag}"


_t = np.linspace(0, 1, 20)
MORE_DOODLES = {
    "key": [_circle(0.2, 0.5, 0.15), [(0.35, 0.5), (0.95, 0.5)], [(0.8, 0.5), (0.8, 0.65)], [(0.9, 0.5), (0.9, 0.62)]],
    "leaf": [np.vstack([np.stack([0.1 + 0.8 * _t, 0.9 - 0.8 * _t - 0.25 * np.sin(np.pi * _t)], 1),
                        np.stack([0.9 - 0.8 * _t, 0.1 + 0.8 * _t + 0.25 * np.sin(np.pi * _t)], 1)]),
             [(0.1, 0.9), (0.85, 0.15)], [(0.1, 0.9), (0.0, 1.0)]],
    "kite": [[(0.5, 0.0), (0.8, 0.3), (0.5, 0.7), (0.2, 0.3), (0.5, 0.0)], [(0.5, 0.0), (0.5, 0.7)], [(0.2, 0.3), (0.8, 0.3)],
             np.stack([0.5 + 0.08 * np.sin(_t * 12), 0.7 + 0.3 * _t], 1)],
    "bird": [np.stack([0.5 * _t, 0.45 - 0.25 * np.sin(np.pi * _t) ** 0.7], 1), np.stack([0.5 + 0.5 * _t, 0.45 - 0.25 * np.sin(np.pi * _t) ** 0.7], 1)],
    "candle": [[(0.35, 0.35), (0.65, 0.35), (0.65, 1.0), (0.35, 1.0), (0.35, 0.35)], [(0.5, 0.35), (0.5, 0.25)],
               [(0.5, 0.0), (0.6, 0.15), (0.5, 0.25), (0.4, 0.15), (0.5, 0.0)]],
    "open book": [[(0.5, 0.3), (0.3, 0.2), (0.0, 0.25), (0.0, 0.85), (0.3, 0.8), (0.5, 0.9), (0.7, 0.8), (1.0, 0.85), (1.0, 0.25), (0.7, 0.2), (0.5, 0.3)],
                  [(0.5, 0.3), (0.5, 0.9)]],
    "fork": [[(0.5, 1.0), (0.5, 0.4)], [(0.3, 0.4), (0.7, 0.4)], [(0.3, 0.4), (0.3, 0.0)], [(0.43, 0.4), (0.43, 0.0)], [(0.57, 0.4), (0.57, 0.0)],
             [(0.7, 0.4), (0.7, 0.0)]],
    "tent": [[(0.0, 0.9), (0.5, 0.1), (1.0, 0.9), (0.0, 0.9)], [(0.5, 0.1), (0.4, 0.9)], [(0.5, 0.1), (0.6, 0.9)], [(0.5, 0.1), (0.5, 0.0)]],
    "crown": [[(0.1, 0.8), (0.0, 0.2), (0.3, 0.5), (0.5, 0.1), (0.7, 0.5), (1.0, 0.2), (0.9, 0.8), (0.1, 0.8)], [(0.1, 0.9), (0.9, 0.9)]],
}  # fmt: skip
del _t


@_kind("more doodles (key, leaf, kite, bird, candle, book, fork, tent, crown)", "shapes", True)
def more_doodles(rng):
    """One of `MORE_DOODLES`, drawn as `doodle` draws its things."""
    name = str(rng.choice(list(MORE_DOODLES)))
    paths = [np.asarray(path, np.float64) + rng.normal(0, 0.01, np.shape(path)) for path in MORE_DOODLES[name]]
    image, how = _drawn(rng, paths, angle_range=0.25, wobble=0.008)
    return image, f"{name}, {how}"



# --- added 2026-12-03, sixth set ----------------------------------------------------------------------
# Three more held-out kinds, written and committed after the seventh build was measured and before any
# detector was measured on them (`FRESH_HELD_OUT_6`, summed apart): the fifth set has been measured
# with three builds.

#: Held-out kinds of the sixth set of 2026-12-03.
FRESH_HELD_OUT_6 = ("letters of Lisu and Old Italic scripts", "cat's head", "photo: a keyboard")

#: The Lisu letters and the Old Italic letters.
LISU_OLD_ITALIC_BLOCKS = ((0xA4D0, 0xA4F7), (0x10300, 0x1031F))

#: Letters that look like a digit, by the rules of `DIGIT_LIKE_LETTERS`, that the rule of `glyphs` keeps,
#: chosen from the plain drawings before any measurement: Lisu's T, G and its turned form, J and its
#: turned form, C and its turned form, L, turned E, U and its turned form (a 7, a 6 or 9, a 1, a 0, a 3,
#: an open 4), and the Old Italic letters like an 8 (a barred box), a 0 (a crossed circle), a 9, a 3
#: and a 4.
LISU_OLD_ITALIC_LEFT_OUT = frozenset(map(ord, "\ua4d4\ua4d6\ua4d9\ua4da\ua4db\ua4e1\ua4e8\ua4e9\ua4f1\ua4f4\ua4f5"
                                              "\U00010307\U00010308\U00010312\U00010314\U0001031d"))


_printed_letters("letters of Lisu and Old Italic scripts", LISU_OLD_ITALIC_BLOCKS, LISU_OLD_ITALIC_LEFT_OUT)


@_kind("cat's head", "shapes", False)
def cat_head(rng):
    """A cat's head drawn from the front: a round face with two pointed ears, two eyes, a nose and
    whiskers on each side."""
    t = np.linspace(0.15 * np.pi, 0.85 * np.pi, 24)  # the face's outline below the ears
    face = np.stack([0.5 + 0.38 * np.cos(t), 0.55 + 0.35 * np.sin(t)], axis=1)
    outline = np.vstack([[0.14, 0.45], [0.12, 0.05], [0.35, 0.25], [0.65, 0.25], [0.88, 0.05], [0.86, 0.45], face[::-1][1:-1], [0.14, 0.45]])
    paths = [outline, _circle(0.36, 0.5, 0.05, points=10), _circle(0.64, 0.5, 0.05, points=10),
             np.array([[0.46, 0.62], [0.54, 0.62], [0.5, 0.67], [0.46, 0.62]])]
    for side in (-1.0, 1.0):
        for dy in (-0.04, 0.04):
            paths.append(np.array([[0.5 + side * 0.12, 0.68 + dy / 2], [0.5 + side * 0.45, 0.66 + dy * 2]]))
    return _drawn(rng, paths, angle_range=0.25)


@_kind("photo: a keyboard", "photos", False)
def photo_keyboard(rng):
    """A computer keyboard seen from above, close: rows of rounded light or dark keys on a base of
    another shade, lit from one side."""
    width, height = frame_size(rng)
    pixels = _background(rng, width, height)
    base = rng.uniform(20, 90) if rng.random() < 0.6 else rng.uniform(170, 230)
    key_shade = rng.uniform(180, 245) if base < 128 else rng.uniform(30, 90)
    pixels[:] = pixels * 0.2 + base * 0.8
    pitch = min(width, height) * rng.uniform(0.12, 0.3)
    gap = pitch * rng.uniform(0.08, 0.18)
    keys = 0
    for row, top in enumerate(np.arange(-pitch * rng.uniform(0, 1), height, pitch)):
        for left in np.arange(-pitch * (0.25 * row % 1 + rng.uniform(0, 0.5)), width, pitch):
            box = (left + gap / 2, top + gap / 2, left + pitch - gap / 2, top + pitch - gap / 2)
            _paint(pixels, _mask(width, height, lambda d, b=box: d.rounded_rectangle(b, radius=pitch * 0.12, fill=255)),
                   np.full(3, key_shade) * rng.uniform(0.95, 1.05, 3), rng)  # fmt: skip
            keys += 1
    pixels *= _shading(rng, (height, width))[..., None] * 0.4 + 0.6
    image = _colour_image(pixels).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    return _maybe_jpeg(image, rng), f"{keys} keys"


# --- printed digits: not negatives, the digits a detector trained on printed glyphs must still take ---


def printed_digits(fonts: tuple[str, ...], count: int, seed: int, start: int = 0) -> list[tuple[Image.Image, int]]:
    """Images `start` .. `start + count - 1` of a digit printed on paper exactly as the letters and
    glyphs are (`_print_on_paper`: a face of `fonts`, sometimes turned, lit, noisy), each from its own
    generator: (image, the digit). The build learns them as digits (the sans faces) and checks them
    (the serif faces), so that printing is no sign of "not a digit"."""
    key = zlib.crc32(b"printed digits")
    out = []
    for i in range(start, start + count):
        rng = np.random.default_rng([seed, key, i])
        digit = int(rng.integers(10))
        image, _ = _print_on_paper(rng, str(digit), str(rng.choice(fonts)))
        out.append((image, digit))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="images per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preview", type=Path, help="write the images into this folder")
    args = parser.parse_args()
    if args.preview:
        args.preview.mkdir(parents=True, exist_ok=True)
    for number, (name, kind) in enumerate(KINDS.items()):
        drawn = images(name, args.count, args.seed)
        print(f"{name:52s} {'training' if kind.training else 'held out':9s} {', '.join(sorted({tag for _, tag in drawn}))[:60]}")
        for i, (image, tag) in enumerate(drawn if args.preview else []):
            image.convert("RGB").save(args.preview / f"{number:02d}-{i:03d}.png")


if __name__ == "__main__":
    main()
