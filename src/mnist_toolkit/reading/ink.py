"""Finding the ink in a real-world image: lighting flattened, polarity, threshold, clean components.

Pure functions over float luminance arrays (`image_ops`, on OpenCV, for filters, labelling and morphology). The
steps, on a reduced copy of at most `WORK_SIDE` pixels per side so that a 12-megapixel photo costs
about as much as a small one:

1. Paper estimated from the image itself: a smooth background by normalised convolution (a coarse,
   weighted Gaussian average) over the pixels not yet judged ink, refined twice.
2. Polarity from the ink/background split: where the two classes are well separated (a tight crop,
   a large digit) the background is the class that holds most of the border and of the pixels;
   where the ink is a small part of the frame, the ink is the side with the heavier tail, unless the
   frame is a page with the desk along a side (a fairly clean split whose light class is one piece
   holding most of the vote): then the ink is dark.
3. Ink contrast relative to the local paper, thresholded by hysteresis relative to the strongest ink
   (faint ruled lines, shadows and texture fall below it), then thin straight lines spanning much of
   the frame (ruled lines, margins) and specks are removed. Ink that touches the edge stays ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import image_ops
from .paper import bilinear_at, reduce, smooth_background

#: The longest side of the reduced copy on which the digit is located.
WORK_SIDE = 800
#: Below this contrast between the strongest ink and the paper, the image holds no digit.
MIN_CONTRAST = 0.12

# The paper (`paper.smooth_background`; find_ink's refinement).
#: Times the paper is estimated again, each time leaving out what then looks like ink.
PAPER_REFINEMENTS = 2
#: Work pixels around the likely ink also left out of the paper: a stroke's soft rim is not paper.
INK_RIM = 2

# Contrast against the paper (_signed_contrast).
#: Dark ink's contrast divides by the paper's luminance (lighting is multiplicative), never by less
#: than this: a near-black "paper" (a deep shadow) must not blow noise up into ink.
MIN_PAPER_LUMINANCE = 0.05
#: Light ink's contrast divides by the room left above the ground, never by less than half the range:
#: "light ink" on light paper cannot be strong (0.05, as for dark ink, blew noise up into ink).
MIN_LIGHT_INK_ROOM = 0.5

# Noise and the first guess at the ink (_paper_noise, _ink_threshold, decide_polarity).
#: MAD -> standard deviation for normally distributed values (1 / the normal's 75th percentile).
MAD_TO_SIGMA = 1.4826
#: The paper's noise, in contrast, is taken as at least this: a clean synthetic image has none, and
#: thresholds of a few times zero would make every faint smudge ink.
MIN_PAPER_NOISE = 0.003
#: Beyond this many robust sigmas of the paper's noise a pixel is ink, not noise: the first-guess ink
#: threshold while the paper is refined, and where the tails counted for the polarity begin.
INK_SIGMAS = 4
#: The first-guess ink threshold is at least this contrast (dark ink: 4 % darker than the local paper).
MIN_INK_THRESHOLD = 0.04
#: The paper class of a two-class image gives the paper's noise when it has at least this many pixels.
MIN_PAPER_PIXELS = 16

# Polarity (decide_polarity, _border, _corners).
#: Otsu separability from which ink and paper are two clear classes (a tight crop, a large digit): a
#: lighting gradient alone stays below it, a uniform spread of grey scores 0.75.
TWO_CLASS_SEPARABILITY = 0.8
#: The border strip that votes for the background is min(side) // BORDER_DIVISOR wide: about 3 %, thin
#: so that a digit in a tight crop covers little of it.
BORDER_DIVISOR = 33
#: The corner patches are 1 / CORNER_DIVISOR of each side: paper in nearly every tight crop of a digit.
CORNER_DIVISOR = 8
#: The corners' vote counts this many times, the pixels' and the border's once: strokes seldom reach them.
CORNER_VOTES = 2
#: When the vote lies within this distance of a tie (a thick digit filling its frame: the ink holds
#: about half the pixels, the border and the corners), the pieces decide: a digit's ink is one
#: connected piece (a 5's bar or a broken stroke: two), while strokes reaching the edges of a tight
#: crop cut the paper into several, and loops add paper holes. The class in fewer pieces is the ink.
#: Development split of the real-world sets (300 per set): wrong polarities 11 -> 2 of 1,275 two-class
#: images, all in the tight crops and the 64 px form boxes. Widened from 0.15 (2026-12-03): a digit so
#: thick that its ink holds two thirds of the box votes about 0.33 and was read inverted, a blob; on
#: development images (tight crops and form boxes from training and held-out digits, 1,500) wrong
#: polarities 3 -> 1, no other 28x28 input changed in any real-world set (0.20 broke a tight 5).
UNSURE_VOTE = 0.18
#: Pieces are counted when they hold at least this share of the frame (specks and noise are not pieces).
PIECE_SHARE = 0.02
#: A page on a desk: where Otsu's split is fairly clean (at least PAGE_SEPARABILITY, under
#: TWO_CLASS_SEPARABILITY) and its light class is one piece holding at least PAGE_LIGHT_SHARE of the
#: two-class rule's vote (pixels, border, corners), the light class is a sheet of paper with the desk
#: along a side, and the ink is dark. The tails cannot tell: the sheet's edge, brighter than its blurred
#: surroundings where the desk begins, is a long light tail, and the sheet was read as light ink (an 8).
#: Development split, 1,000 of each real-world set (2026-12-03): the rule decides 5 frames, all photos
#: of a page with the desk along a side that the tails had read as light ink; the sticky notes on a
#: desk, found as light ink on purpose (`segment.paper_patch`), hold less of the vote or split less
#: cleanly (under 0.7), and keep the tails' answer.
PAGE_SEPARABILITY = 0.7
PAGE_LIGHT_SHARE = 0.65

# The threshold (find_ink).
#: Gaussian sigma, in work pixels, of the smoothing of the contrast before it is thresholded, so that
#: single noisy pixels do not become ink while strokes (several pixels wide) keep their level.
CONTRAST_SMOOTHING = 0.7
#: The strongest ink is this percentile of the smoothed contrast (a few hot pixels or glints ignored)...
PEAK_PERCENTILE = 99.99
#: ...in work images of more than this many pixels; in smaller ones that percentile falls within the
#: last pixel (1 / (1 - 0.9999)), so the maximum is taken.
PEAK_PERCENTILE_MIN_PIXELS = 10_000
#: The strongest ink must also stand this many noise sigmas above the paper, or there is no digit:
#: blank paper's own noise reaches about 3.7 sigma at the 99.99th percentile.
MIN_PEAK_NOISES = 6
#: Hysteresis thresholds, each the larger of a share of the strongest ink and a number of paper-noise
#: sigmas: smoothed contrast above the low one is ink when connected to contrast above the high one,
#: so faint ruled lines, shadows and texture fall below while a stroke's fainter parts stay. Empirical,
#: set with the real-world sets of benchmarks/realworld_sets.py (their development split).
HYSTERESIS_LOW = 0.3
HYSTERESIS_LOW_NOISES = 3.5
HYSTERESIS_HIGH = 0.55
HYSTERESIS_HIGH_NOISES = 5

# Ruled lines and margins (remove_lines).
#: A horizontal run of ink longer than width // RULED_LINE_DIVISOR (a third of the width) is a line.
RULED_LINE_DIVISOR = 3
#: A vertical run is a margin only when longer than this share of the height: a margin spans the page,
#: while an upright 1 in a short row spans a third of the frame (rows with the digit count right:
#: 98.8 -> 100 % on the development set, where a third had erased such 1s)...
MARGIN_LINE_SPAN = 0.6
#: ...and even then it is an upright 1, kept, when it spans less than this share of the height and
#: other ink of about its height sits beside it in its row (_digit_strokes): a 1 drawn in a short frame
#: spans more than 0.6 of it, a margin line spans the page.
MARGIN_FULL_SPAN = 0.9
#: "About its height": the line at most this many times as long as its neighbour, and the neighbour at
#: most this many times as tall as the line (a digit of the same row; not a speck, not a page edge).
ROW_HEIGHT_RATIO = 1.5
#: The neighbour overlaps the line's rows by at least this share of the shorter of the two (one row)...
ROW_LINE_OVERLAP = 0.5
#: ...and its box lies at most this many line lengths sideways (digits of one number, not a margin far
#: from the text).
ROW_LINE_REACH = 2.0
#: Line runs are at least this many work pixels long.
MIN_LINE_RUN = 8
#: Lines are looked for only along a side at least this many runs long (in effect: not along a side
#: under 12 work pixels, where the run is MIN_LINE_RUN).
LINE_FRAME_RUNS = 1.5
#: Ink thicker across the line than this share of the frame (plus a pixel, and at least
#: MIN_STROKE_THICKNESS pixels) is a stroke and stays: a digit's strokes crossing a ruled line keep
#: their pixels, and a digit filling a tight crop keeps its thick bars.
LINE_MAX_THICKNESS = 0.02
MIN_STROKE_THICKNESS = 3


@dataclass(frozen=True)
class InkField:
    """An image's ink, located on a reduced copy; enough to cut any region from the original.

    `contrast` is ink strength relative to the local paper (0 = paper, about 1 = the strongest ink),
    `mask` the cleaned ink, both at work scale; `factor` maps work pixels to original pixels.
    """

    gray: np.ndarray  # (H, W) float32 luminance of the original
    factor: int  # work pixel (r, c) covers original rows r*factor .. (r+1)*factor
    background: np.ndarray  # (h, w) paper luminance at work scale
    contrast: np.ndarray  # (h, w) float32, >= 0
    mask: np.ndarray  # (h, w) bool, cleaned ink
    dark_ink: bool  # dark ink on light paper (the usual photo)
    peak: float  # contrast of the strongest ink
    low: float  # hysteresis thresholds used at work scale
    high: float

    def contrast_at(self, top: int, bottom: int, left: int, right: int, step: int = 1) -> np.ndarray:
        """Ink contrast of an original-resolution region, against the paper estimated at work scale.

        With `step` above 1, of the region reduced by that factor (block means; the last partial blocks
        averaged as they are): pixel (i, j) covers original rows top + i*step .. top + (i+1)*step.
        """
        region = reduce(self.gray[top:bottom, left:right], step)
        f = self.factor
        rows = (top + (np.arange(region.shape[0]) + 0.5) * step) / f - 0.5
        cols = (left + (np.arange(region.shape[1]) + 0.5) * step) / f - 0.5
        paper = bilinear_at(self.background, rows, cols)
        return _contrast(region, paper, self.dark_ink)


def keep_only(gray: np.ndarray, region: np.ndarray, factor: int) -> np.ndarray:
    """`gray` with everything outside `region` (a work-scale mask) set to the region's median: only it is read."""
    rows = np.minimum(np.arange(gray.shape[0]) // factor, region.shape[0] - 1)
    cols = np.minimum(np.arange(gray.shape[1]) // factor, region.shape[1] - 1)
    inside = region[np.ix_(rows, cols)]
    return np.where(inside, gray, np.float32(np.median(gray[inside]))).astype(np.float32)


def _work_factor(shape: tuple[int, int]) -> int:
    return max(1, int(np.ceil(max(shape) / WORK_SIDE)))


def _signed_contrast(gray: np.ndarray, paper: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Ink strength relative to the local paper, signed (paper pixels scatter around 0).

    Dark ink divides by the paper (lighting is multiplicative); light ink on a dark ground is scaled
    by the room left above the ground (at least half the range: "light ink" on light paper cannot be
    strong, and dividing by the little room left would blow noise up into ink).
    """
    if dark_ink:
        return ((paper - gray) / np.maximum(paper, MIN_PAPER_LUMINANCE)).astype(np.float32)
    return ((gray - paper) / np.maximum(1.0 - paper, MIN_LIGHT_INK_ROOM)).astype(np.float32)


def _contrast(gray: np.ndarray, paper: np.ndarray, dark_ink: bool) -> np.ndarray:
    return np.clip(_signed_contrast(gray, paper, dark_ink), 0.0, None)


def _paper_noise(signed: np.ndarray, two_classes: bool, paper: np.ndarray | None = None) -> float:
    """Spread of the paper's contrast: over the paper class when ink is a large share, else robust over all.

    `paper`, when given, is the paper class of the grey levels (away from the ink's rim): a digit that
    fills its frame leaves so little paper that a split of the contrast itself would fall inside the ink.
    """
    if paper is not None and paper.sum() >= MIN_PAPER_PIXELS:
        values = signed[paper]
    else:
        values = signed[signed < otsu_threshold(signed)[0]] if two_classes else signed
    return max(_robust_sigma(values), MIN_PAPER_NOISE)


def _ink_threshold(signed: np.ndarray, two_classes: bool) -> float:
    floor = max(INK_SIGMAS * _paper_noise(signed, two_classes), MIN_INK_THRESHOLD)
    return max(floor, otsu_threshold(signed)[0]) if two_classes else floor


def otsu_threshold(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's threshold of `values` and its separability (between-class / total variance, 0..1)."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return low, 0.0
    hist, edges = np.histogram(values, bins=bins, range=(low, high))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_lo = np.cumsum(hist)
    weight_hi = weight_lo[-1] - weight_lo
    sum_lo = np.cumsum(hist * centres)
    mean_lo = sum_lo / np.maximum(weight_lo, 1e-12)
    mean_hi = (sum_lo[-1] - sum_lo) / np.maximum(weight_hi, 1e-12)
    between = weight_lo * weight_hi * (mean_lo - mean_hi) ** 2
    index = int(np.argmax(between[:-1]))
    total = hist.sum()
    variance = float(np.sum(hist * (centres - sum_lo[-1] / total) ** 2) / total)
    separability = float(between[index] / total**2 / variance) if variance > 0 else 0.0
    return float(edges[index + 1]), separability


def _border(array: np.ndarray) -> np.ndarray:
    width = max(1, min(array.shape) // BORDER_DIVISOR)
    return np.concatenate([array[:width].ravel(), array[-width:].ravel(), array[:, :width].ravel(), array[:, -width:].ravel()])


def _corners(array: np.ndarray) -> np.ndarray:
    """The four corner patches (an eighth of each side): paper in nearly every tight crop of a digit."""
    h, w = max(1, array.shape[0] // CORNER_DIVISOR), max(1, array.shape[1] // CORNER_DIVISOR)
    return np.concatenate([array[:h, :w].ravel(), array[:h, -w:].ravel(), array[-h:, :w].ravel(), array[-h:, -w:].ravel()])


def _robust_sigma(values: np.ndarray) -> float:
    median = float(np.median(values))
    return MAD_TO_SIGMA * float(np.median(np.abs(values - median)))


@dataclass(frozen=True)
class Polarity:
    """Which way the ink goes, and whether ink and paper form two clear classes of grey levels."""

    dark_ink: bool  # dark ink on light paper
    two_classes: bool  # a tight crop or a large digit: ink is a large share of the pixels
    ink: np.ndarray | None  # the first guess at the ink when two_classes, else None


def _pieces(mask: np.ndarray) -> int:
    """Connected pieces of the mask holding at least PIECE_SHARE of the frame each."""
    _, _, stats = image_ops.label(mask)
    return int((stats[:, 4] >= PIECE_SHARE * mask.size).sum())


def _light_vote(light: np.ndarray) -> float:
    """The light class's share of the vote: of the pixels, of the border and of the corners (twice)."""
    votes = (float(light.mean()), float(_border(light).mean()), float(_corners(light).mean()))
    return (votes[0] + votes[1] + CORNER_VOTES * votes[2]) / (2 + CORNER_VOTES)


def decide_polarity(gray: np.ndarray) -> Polarity:
    """Polarity from the ink/background split of the grey levels.

    Where Otsu's split separates two clear classes (separability >= 0.8: a tight crop, a large digit;
    a lighting gradient alone stays below that, a uniform spread of grey scoring 0.75), the background
    is the class that holds most of the pixels, the border and the corners together (the corners
    count twice: strokes seldom reach them), so ink touching the edges does not flip it; near a tie
    (a thick digit filling its frame) the class in fewer connected pieces is the ink. Otherwise the
    ink is a small part of the frame: it is the side whose tail, after removing the lighting, reaches
    further from the paper; but a page with the desk along a side (separability >= 0.7, a light class
    in one piece holding PAGE_LIGHT_SHARE of the vote) has dark ink whatever the tails say.
    """
    threshold, separability = otsu_threshold(gray)
    if separability >= TWO_CLASS_SEPARABILITY:
        light = gray > threshold
        light_share = _light_vote(light)
        dark_ink = light_share > 0.5
        if abs(light_share - 0.5) <= UNSURE_VOTE:
            light_pieces, dark_pieces = _pieces(light), _pieces(~light)
            if light_pieces != dark_pieces:
                dark_ink = dark_pieces < light_pieces
        return Polarity(dark_ink, True, ~light if dark_ink else light)
    if separability >= PAGE_SEPARABILITY:
        light = gray > threshold
        if _light_vote(light) >= PAGE_LIGHT_SHARE and _pieces(light) == 1:
            return Polarity(True, False, None)
    residual = gray - smooth_background(gray, None)
    centre = float(np.median(residual))
    sigma = max(_robust_sigma(residual), 1e-3)
    dark_tail = np.clip(centre - residual - INK_SIGMAS * sigma, 0, None).sum()
    light_tail = np.clip(residual - centre - INK_SIGMAS * sigma, 0, None).sum()
    if dark_tail == light_tail:
        return Polarity(float(np.median(_border(gray))) > 0.5, False, None)
    return Polarity(bool(dark_tail > light_tail), False, None)


def _hysteresis(values: np.ndarray, low: float, high: float) -> np.ndarray:
    candidates = values > low
    labels, count, _ = image_ops.label(candidates)
    if count == 0:
        return candidates
    strong = np.zeros(count + 1, dtype=bool)
    strong[np.unique(labels[values > high])] = True
    strong[0] = False
    return strong[labels]


def _line_pixels(mask: np.ndarray, axis: int, run: int) -> np.ndarray:
    """Pixels on a thin run of at least `run` pixels along `axis` (1: horizontal, 0: vertical).

    Thin: not part of a run across the line thicker than about 2 % of the frame (plus a pixel, and at
    least MIN_STROKE_THICKNESS pixels), so a digit's strokes crossing a ruled line and a digit filling a
    tight crop keep their pixels.
    """
    along, across = mask.shape[axis], mask.shape[1 - axis]
    thickness = max(MIN_STROKE_THICKNESS, int(round(LINE_MAX_THICKNESS * across)) + 1)
    if along < int(LINE_FRAME_RUNS * run) or across < thickness:
        return np.zeros_like(mask)
    thin = mask & ~image_ops.opening_1d(mask, thickness, axis=1 - axis)
    return image_ops.opening_1d(thin, run, axis=axis)


def _digit_strokes(vertical: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """The vertical lines that are upright 1s in a row of digits, not margins.

    A line is a digit's stroke when it spans less than MARGIN_FULL_SPAN of the frame's height and some
    other ink (`rest`, lines removed, or another such line: "11") is about as tall (ROW_HEIGHT_RATIO
    either way), shares its rows (ROW_LINE_OVERLAP) and lies near it (ROW_LINE_REACH line lengths).
    """
    height = vertical.shape[0]
    line_labels, count, lines = image_ops.label(vertical)
    _, _, others = image_ops.label(rest)
    keep = np.zeros(count + 1, dtype=bool)
    candidates = np.concatenate([others, lines]).astype(np.int64)  # every line is tested against all the rest at once
    o_left, o_top, o_width, o_height = candidates[:, 0], candidates[:, 1], candidates[:, 2], candidates[:, 3]
    for index, (left, top, width, length, _) in enumerate(lines.astype(np.int64)):
        if length >= MARGIN_FULL_SPAN * height:
            continue
        shared = np.minimum(top + length, o_top + o_height) - np.maximum(top, o_top)
        sideways = np.maximum(0, np.maximum(left, o_left) - np.minimum(left + width, o_left + o_width))
        beside = ((length <= ROW_HEIGHT_RATIO * o_height) & (o_height <= ROW_HEIGHT_RATIO * length)
                  & (shared >= ROW_LINE_OVERLAP * np.minimum(length, o_height)) & (sideways <= ROW_LINE_REACH * length))
        beside[len(others) + index] = False  # not the line itself
        keep[index + 1] = bool(beside.any())
    return keep[line_labels]


def remove_lines(mask: np.ndarray) -> np.ndarray:
    """The mask without thin straight lines that run across much of the frame (ruled lines, margins).

    A pixel is removed when it lies on a thin horizontal run longer than a third of the width (a ruled
    line), or on a thin vertical run longer than 0.6 of the height (a margin) unless that run is an
    upright 1 in a row of digits: shorter than 0.9 of the height, beside ink of about its height in its
    row (`_digit_strokes`). Thin: a digit's strokes crossing a ruled line keep their pixels, and a digit
    filling a tight crop keeps its thick bars (`_line_pixels`).
    """
    height, width = mask.shape
    horizontal = _line_pixels(mask, 1, max(MIN_LINE_RUN, width // RULED_LINE_DIVISOR))
    vertical = _line_pixels(mask, 0, max(MIN_LINE_RUN, int(MARGIN_LINE_SPAN * height)))
    cleaned = mask & ~horizontal & ~vertical
    if vertical.any():
        cleaned |= _digit_strokes(vertical, cleaned) & mask & ~horizontal
    return cleaned


def find_ink(gray: np.ndarray) -> InkField | None:
    """Locate the ink of a luminance image in [0, 1]; None when there is no ink worth the name.

    Args:
        gray: (H, W) luminance, any size.
    """
    gray = np.asarray(gray, dtype=np.float32)
    factor = _work_factor(gray.shape)
    work = reduce(gray, factor)
    polarity = decide_polarity(work)
    dark_ink, two_classes = polarity.dark_ink, polarity.two_classes
    exclude = None if polarity.ink is None else image_ops.dilate(polarity.ink, iterations=1)
    paper = smooth_background(work, exclude)
    # Refine the paper twice, each time leaving out what currently looks like ink (and its rim).
    for _ in range(PAPER_REFINEMENTS):
        signed = _signed_contrast(work, paper, dark_ink)
        likely_ink = image_ops.dilate(signed > _ink_threshold(signed, two_classes), iterations=INK_RIM)
        paper = smooth_background(work, likely_ink)
    smoothed_signed = image_ops.gaussian(_signed_contrast(work, paper, dark_ink), CONTRAST_SMOOTHING)
    paper_class = None if polarity.ink is None else ~image_ops.dilate(polarity.ink, iterations=INK_RIM)
    noise = _paper_noise(smoothed_signed, two_classes, paper_class)
    smoothed = np.clip(smoothed_signed, 0.0, None)
    contrast = _contrast(work, paper, dark_ink)
    peak = float(np.percentile(smoothed, PEAK_PERCENTILE)) if smoothed.size > PEAK_PERCENTILE_MIN_PIXELS else float(smoothed.max())
    if peak < max(MIN_CONTRAST, MIN_PEAK_NOISES * noise):
        return None
    low = max(HYSTERESIS_LOW * peak, HYSTERESIS_LOW_NOISES * noise)
    high = max(HYSTERESIS_HIGH * peak, HYSTERESIS_HIGH_NOISES * noise)
    mask = remove_lines(_hysteresis(smoothed, low, high))
    if not mask.any():
        return None
    return InkField(gray, factor, paper, contrast, mask, dark_ink, peak, low, high)
