"""Grouping ink components into digits: one digit in a photo, or a row of digits read left to right.

Works on the cleaned ink mask of `ink.find_ink` (work scale). Components are labelled with
`image_ops` (8-connected); specks, page edges and tables along the border are dropped; the parts of
one digit (a 5's detached bar, a broken stroke, the dot of a pen lifted) are merged when they overlap
horizontally or nearly touch; what remains, if it is digit-sized, is a digit, and a stroke too short
to be one joins the digit it lies next to. A group far wider than a digit is touching digits: it is cut
into digit-wide parts where its vertical ink projection is thinnest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import image_ops

# Specks and border blobs (_drop_specks, _drop_border_blobs).
#: Components of fewer work pixels than this are specks (dust, sensor noise): no part of a stroke is
#: that small...
MIN_COMPONENT_AREA = 3
#: ...and so are those with less than this share of the largest component's pixels (paper texture and
#: JPEG specks around a large digit; a pen's dot is larger).
SPECK_SHARE = 0.01
#: A component covering at least this share of one side of the frame is a page edge or the desk
#: beyond it, which lines a whole side, where a digit in a tight crop touches the edges at a few
#: strokes only...
BORDER_BLOB_SIDE = 0.5
#: ...and goes when its box is more than this many times the largest other box ("far larger"), so that
#: a digit touching the edge beside a mere speck is kept.
BORDER_BLOB_AREA_RATIO = 3

# The parts of one digit (_merge_parts, _attach_strokes); gaps are shares of the (taller) digit's
# height. Empirical, set on the development split of the real-world sets, rows of digits (numbers)
# among them: parts of one digit join, neighbouring digits in a row stay apart.
#: Boxes sharing at least this share of the narrower one's width (a 5's bar over its body; digits
#: side by side in a row overlap less)...
MERGE_X_OVERLAP = 0.5
#: ...and at most this far apart vertically are one digit.
MERGE_Y_GAP = 0.5
#: Boxes at most this far apart on both axes nearly touch (a stroke broken by a pixel or two, well
#: under the space between digits written in a row): one digit.
TOUCH_GAP = 0.04
#: A part with less than this share of the larger one's ink pixels (the dot of a pen lifted, a
#: broken-off piece of stroke; a neighbouring digit has about as much ink)...
SMALL_PART_AREA = 0.2
#: ...joins it when at most this far sideways (and PART_Y_REACH vertically).
SMALL_PART_X_GAP = 0.1
#: How far above or below a digit a detached part of it may lie: for a small part while merging and
#: for a stroke too short to be a digit (a 5's bar lifted off).
PART_Y_REACH = 0.3
#: A stroke too short to be a digit joins a digit when it holds at least this share of the digit's
#: ink pixels and lies at most STROKE_X_REACH sideways (and PART_Y_REACH vertically): a 5's bar drawn
#: off to the right, which the merging leaves alone and whose loss turns the 5 into a 3 (development
#: split: +2 rows of 1,000 numbers, no other set changed).
STROKE_MIN_INK = 0.1
STROKE_X_REACH = 0.2

# Digit size (digit_groups).
#: A digit is at least this many work pixels tall...
MIN_DIGIT_HEIGHT = 5.0
#: ...and this share of the frame's shorter side: specks never become digits...
MIN_DIGIT_HEIGHT_SHARE = 0.025
#: ...and at least 1 / TALLEST_PER_DIGIT (a third) as tall as the tallest group; shorter groups are
#: strokes, which may join a digit (_attach_strokes), or specks.
TALLEST_PER_DIGIT = 3

# A light paper patch: a sticky note on a darker desk (paper_patch).
#: A patch spans at most this share of the frame's height and width (a digit in a tight crop fills it).
PATCH_MAX_SPAN = 0.6
#: A patch is solid: its pixels cover at least this share of its box (measured on the development
#: photos: notes cover 67-92 %; a light digit's strokes cover less).
PATCH_MIN_FILL = 0.65
#: The holes the patch's own dark ink makes are at least and at most these shares of the filled patch
#: (a note holds a digit; a light "0" is mostly hole).
PATCH_MIN_HOLES = 0.01
PATCH_MAX_HOLES = 0.3

# Touching digits (_split_touching, _cut_columns); widths are shares of the row's digit height.
#: A group wider than this is several digits whose ink touches (a number written or printed tightly):
#: hardly a single digit is (5 of MNIST's 60,000 training digits, none of its 10,000 test digits, at ink
#: above 40 of 255). Two touching digits, about 1.6 wide, are left whole for that reason...
SPLIT_ASPECT = 2.0
#: ...and is cut where a vertical projection of its ink has little ink, into parts of about this width
#: (a digit's usual width; a part's width penalty is the squared log of its ratio to it)...
DIGIT_ASPECT = 0.7
#: ...each part between these widths (a narrow 1; a wide 0)...
MIN_PART_ASPECT = 0.2
MAX_PART_ASPECT = 1.5
#: ...weighing the ink a cut crosses (a share of the height) this many times against the widths...
CUT_INK_WEIGHT = 1.0
#: ...unless it would take more parts than this: no number that long is written touching; such ink (a
#: scribble, a line that stayed) is left whole.
MAX_TOUCHING = 10

#: A group is on the main row when it overlaps the anchor's band vertically by at least this share of
#: the shorter of the two (in_row): digits written on one line, each a little off the baseline.
ROW_OVERLAP = 0.3


@dataclass
class Group:
    """Ink components that make one digit; boxes at work scale, exclusive ends."""

    top: int
    bottom: int
    left: int
    right: int
    area: int  # ink pixels
    mass: float  # summed ink contrast
    labels: list[int] = field(default_factory=list)
    cut_from: int = 1  # digits its ink was cut into (touching digits); above 1, only columns left..right are its own

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def absorb(self, other: Group) -> None:
        self.top, self.bottom = min(self.top, other.top), max(self.bottom, other.bottom)
        self.left, self.right = min(self.left, other.left), max(self.right, other.right)
        self.area += other.area
        self.mass += other.mass
        self.labels += other.labels

    def gap_to(self, other: Group) -> tuple[int, int]:
        """(horizontal, vertical) empty space between the two boxes (0 when they overlap on that axis)."""
        horizontal = max(0, max(self.left, other.left) - min(self.right, other.right))
        vertical = max(0, max(self.top, other.top) - min(self.bottom, other.bottom))
        return horizontal, vertical

    def x_overlap(self, other: Group) -> float:
        """Shared horizontal extent as a fraction of the narrower box."""
        shared = min(self.right, other.right) - max(self.left, other.left)
        return max(0, shared) / max(1, min(self.width, other.width))


def components(mask: np.ndarray, contrast: np.ndarray) -> tuple[np.ndarray, list[Group]]:
    """Label the mask (8-connected); one Group per component."""
    labels, count, stats = image_ops.label(mask)
    masses = image_ops.sum_labels(contrast, labels, count)
    groups = []
    for label, (left, top, width, height, area), mass in zip(range(1, count + 1), stats, masses):
        groups.append(Group(int(top), int(top + height), int(left), int(left + width), int(area), float(mass), [label]))
    return labels, groups


def _drop_specks(groups: list[Group]) -> list[Group]:
    largest = max(group.area for group in groups)
    return [group for group in groups if group.area >= max(MIN_COMPONENT_AREA, SPECK_SHARE * largest)]


def _drop_border_blobs(groups: list[Group], labels: np.ndarray) -> list[Group]:
    """Drop a page edge or table along the border: ink covering half or more of one side of the frame.

    A digit in a tight crop touches the edges at a few strokes; the dark table beyond a page's edge
    lines a whole side. Blobs go only when something else is there, and only when far larger than it.
    """

    def is_blob(group: Group) -> bool:
        label = group.labels[0]
        sides = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
        return any(np.mean(side == label) >= BORDER_BLOB_SIDE for side in sides)

    blobs = [group for group in groups if is_blob(group)]
    if not blobs:
        return groups
    rest = [group for group in groups if not is_blob(group)]
    if not rest:
        return groups
    biggest_rest = max(group.height * group.width for group in rest)
    return rest + [blob for blob in blobs if blob.height * blob.width <= BORDER_BLOB_AREA_RATIO * biggest_rest]


def _merge_parts(groups: list[Group]) -> list[Group]:
    """Merge the parts of one digit: boxes overlapping by half the narrower width, or nearly touching."""
    groups = sorted(groups, key=lambda g: -g.area)
    merged = True
    while merged:
        merged = False
        for i, first in enumerate(groups):
            for j in range(i + 1, len(groups)):
                second = groups[j]
                size = max(first.height, second.height)
                horizontal, vertical = first.gap_to(second)
                overlapping = first.x_overlap(second) >= MERGE_X_OVERLAP and vertical <= MERGE_Y_GAP * size
                touching = horizontal <= TOUCH_GAP * size and vertical <= TOUCH_GAP * size
                small_part = (second.area < SMALL_PART_AREA * first.area and horizontal <= SMALL_PART_X_GAP * size
                              and vertical <= PART_Y_REACH * size)
                if overlapping or touching or small_part:
                    first.absorb(second)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def digit_groups(mask: np.ndarray, contrast: np.ndarray) -> tuple[np.ndarray, list[Group]]:
    """The digits in a cleaned ink mask, left to right; also the label image their `labels` refer to.

    A group is a digit when it is at least a third as tall as the tallest group and at least
    2.5 % of the frame's shorter side (and 5 px) tall: specks never become digits.
    """
    labels, groups = components(mask, contrast)
    if not groups:
        return labels, []
    groups = _drop_specks(_drop_border_blobs(groups, labels))
    groups = _merge_parts(groups)
    floor = max(MIN_DIGIT_HEIGHT, MIN_DIGIT_HEIGHT_SHARE * min(mask.shape))
    tallest = max(group.height for group in groups)
    tall_enough = max(floor, tallest / TALLEST_PER_DIGIT)
    digits = [group for group in groups if group.height >= tall_enough]
    _attach_strokes(digits, [group for group in groups if group.height < tall_enough])
    digits = _split_touching(digits, labels, contrast)
    return labels, sorted(digits, key=lambda g: (g.left + g.right) / 2)


def _attach_strokes(digits: list[Group], parts: list[Group]) -> None:
    """Give each stroke too short to be a digit to the nearest digit when it lies close to it.

    A 5's detached bar drawn off to the right overlaps its body by less than half and is too large
    for a "small part", so the merging above leaves it alone; dropped, it turns the 5 into a 3. A part
    joins a digit when it holds at least a tenth of the digit's ink and its box is within 0.2 of the
    digit's height sideways and 0.3 vertically; of several such digits, the nearest (the first
    listed, the larger, when it overlaps two). Parts go largest first, each measured against the
    digit as grown by the parts before it.
    """
    for part in sorted(parts, key=lambda g: -g.area):
        near = []
        for digit in digits:
            horizontal, vertical = part.gap_to(digit)
            if (part.area >= STROKE_MIN_INK * digit.area and horizontal <= STROKE_X_REACH * digit.height
                    and vertical <= PART_Y_REACH * digit.height):
                near.append((math.hypot(horizontal, vertical), digit))
        if near:
            min(near, key=lambda pair: pair[0])[1].absorb(part)


def _split_touching(digits: list[Group], labels: np.ndarray, contrast: np.ndarray) -> list[Group]:
    """Cut each group far wider than a digit (touching digits) into digit-wide parts.

    A group is several digits when it is more than SPLIT_ASPECT times as wide as the row's digits are
    tall (the median height of the digits, or its own when taller).
    """
    if not digits:
        return digits
    row_height = float(np.median([group.height for group in digits]))
    result = []
    for group in digits:
        height = max(group.height, row_height)
        wide = SPLIT_ASPECT * height < group.width <= (MAX_TOUCHING + 0.5) * DIGIT_ASPECT * height
        result += _cut(group, height, labels, contrast) if wide else [group]
    return result


def _cut_columns(profile: np.ndarray, height: float) -> list[int]:
    """Where to cut a group whose columns hold `profile` ink pixels: the starts of its parts after the first.

    It is cut into round(width / (DIGIT_ASPECT * height)) parts, at least two, each MIN_PART_ASPECT
    to MAX_PART_ASPECT of `height` wide, at the cuts that minimise the ink they cross (CUT_INK_WEIGHT
    times its share of the height) plus each part's width penalty (the squared log of its width over
    an even share): cuts fall in the projection's valleys where digits touch, near an even split.
    Dynamic programming over (parts so far, column), each part's start searched in numpy.
    """
    width = len(profile)
    parts = max(2, round(width / (DIGIT_ASPECT * height)))
    even = width / parts
    narrowest, widest = max(1, int(MIN_PART_ASPECT * height)), max(2, int(MAX_PART_ASPECT * height))
    ink = CUT_INK_WEIGHT * np.convolve(profile, np.ones(3) / 3, mode="same") / height  # (width,) smoothed over 3 columns
    ink = np.append(ink, 0.0)  # the group's right edge is no cut
    best = np.full(width + 1, np.inf)  # best[x]: the least cost of cutting columns 0..x-1 into the parts so far
    best[0] = 0.0
    previous = np.zeros((parts + 1, width + 1), dtype=int)
    for part in range(1, parts + 1):
        cost = np.full(width + 1, np.inf)
        for end in range(narrowest, width + 1):
            starts = np.arange(max(0, end - widest), end - narrowest + 1)
            costs = best[starts] + np.log((end - starts) / even) ** 2
            pick = int(np.argmin(costs))
            cost[end] = costs[pick] + ink[end]
            previous[part, end] = starts[pick]
        best = cost
    cuts, end = [], width
    for part in range(parts, 1, -1):
        end = int(previous[part, end])
        cuts.append(end)
    return sorted(cuts)


def _cut(group: Group, height: float, labels: np.ndarray, contrast: np.ndarray) -> list[Group]:
    """`group` cut into digit-wide parts (`_cut_columns`), each part's box fitted to its ink."""
    box = np.s_[group.top : group.bottom, group.left : group.right]
    own = np.isin(labels[box], group.labels)
    bounds = [0, *_cut_columns(own.sum(axis=0), height), group.width]
    pieces = []
    for start, stop in zip(bounds, bounds[1:]):
        ink = own[:, start:stop]
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        if rows.size == 0:
            continue
        top, bottom = group.top + int(rows[0]), group.top + int(rows[-1]) + 1
        left, right = group.left + start + int(cols[0]), group.left + start + int(cols[-1]) + 1
        mass = float(contrast[box][:, start:stop][ink].sum())
        pieces.append(Group(top, bottom, left, right, int(ink.sum()), mass, list(group.labels), len(bounds) - 1))
    return pieces


def paper_patch(labels: np.ndarray, group: Group) -> np.ndarray | None:
    """The mask of a light paper patch (a sticky note on a darker table) when `group` is one, else None.

    Found as "light ink" on the darker ground, a note is one solid component (at least 65 % of its
    box, where a light digit's strokes cover less) with holes where its own dark ink is (1-30 % of
    the filled patch: a light "0" is mostly hole), and clearly smaller than the frame (a digit in a
    tight crop fills it). Measured on the development photos: notes cover 67-92 % of their box. The returned mask is the patch with its holes filled, shrunk by one pixel
    so that its edge stays out.
    """
    height, width = labels.shape
    if group.height > PATCH_MAX_SPAN * height or group.width > PATCH_MAX_SPAN * width:
        return None
    box = labels[group.top : group.bottom, group.left : group.right]
    own = box == max(group.labels, key=lambda label: int(np.count_nonzero(box == label)))
    filled = image_ops.fill_holes(own)
    holes = filled.sum() - own.sum()
    if own.sum() < PATCH_MIN_FILL * own.size or not PATCH_MIN_HOLES * filled.sum() <= holes <= PATCH_MAX_HOLES * filled.sum():
        return None
    patch = np.zeros(labels.shape, dtype=bool)
    patch[group.top : group.bottom, group.left : group.right] = image_ops.erode(filled, iterations=1)
    return patch


def in_row(groups: list[Group]) -> list[Group]:
    """The groups that sit on the main row: vertically overlapping the tallest group's band."""
    if not groups:
        return groups
    anchor = max(groups, key=lambda g: g.mass)
    return [g for g in groups if min(g.bottom, anchor.bottom) - max(g.top, anchor.top) >= ROW_OVERLAP * min(g.height, anchor.height)]
