"""Grouping ink components into digits: one digit in a photo, or a row of digits read left to right.

Works on the cleaned ink mask of `ink.find_ink` (work scale). Components are labelled with
`image_ops` (8-connected); specks, page edges and tables along the border are dropped; the parts of
one digit (a 5's detached bar, a broken stroke, the dot of a pen lifted) are merged when they overlap
horizontally or nearly touch; what remains, if it is digit-sized, is a digit, and a stroke too short
to be one joins the digit it lies next to. A group far wider than a digit is touching digits: it is cut
into digit-wide parts where its vertical ink projection is thinnest.

Hostile images stay cheap: components are filtered as arrays before any per-component Python object
is made, an image with more marks than a row of digits could have is refused (`MAX_MARKS`), and
merging, attaching and cutting look at the candidates with numpy, never pair by pair in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import image_ops
from .prepare import ImageError

# Specks and border blobs (_without_specks, _without_border_blobs).
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
# Specks merged into digit-sized clusters (digit_groups, _speck_cluster): specks never become digits.
#: A group is specks when none of its components reaches this share of the digit-height floor on its
#: longer side (tiny dots merged into a digit-tall cluster), while every digit has a longer stroke...
SPECK_OF_FLOOR = 0.5
#: ...or when it is made of more than this many components (the real-world sets' digits: at most 4,
#: 98.5 % one) of which the largest spans less than CLUSTER_PART_SHARE of its longer side (theirs: at
#: least 0.49): a snowball of scattered specks, where a digit with some dust has one long stroke.
CLUSTER_PARTS = 4
CLUSTER_PART_SHARE = 0.25
#: With more marks than this (the real-world sets: at most 12), the digits must hold at least
#: DIGIT_INK_SHARE of their ink pixels, or the image is scattered specks, some of which happened to
#: fall into a digit-sized pair or trio.
SPECKLED_MARKS = 30
DIGIT_INK_SHARE = 0.5

# Hostile images (digit_groups).
#: More marks than this (components left after specks and border blobs) and the image is no digit
#: nor a row of digits: it is refused before grouping. The real-world sets of
#: benchmarks/realworld_sets.py show at most 12 (a row of ten digits with detached parts; 1,200
#: images, both splits), so this leaves a margin of about 80 times, while grouping this many takes
#: at most about a tenth of a second (15,876 dots took 170 s when pairs were compared in Python).
MAX_MARKS = 1_000

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
    part_size: int = 0  # the longer side of its largest component box (specks: small)

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
        self.part_size = max(self.part_size, other.part_size)

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
    return labels, _groups(stats, masses, np.arange(count))


def _groups(stats: np.ndarray, masses: np.ndarray, indices: np.ndarray) -> list[Group]:
    """One Group for each component index (label - 1) in `indices`, in that order."""
    groups = []
    for index in indices.tolist():
        left, top, width, height, area = (int(value) for value in stats[index])
        groups.append(Group(top, top + height, left, left + width, area, float(masses[index]), [index + 1], part_size=max(width, height)))
    return groups


def _without_border_blobs(stats: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Component indices without a page edge or table along the border: ink covering half or more of
    one side of the frame. Kept in label order, any blob kept after the rest.

    A digit in a tight crop touches the edges at a few strokes; the dark table beyond a page's edge
    lines a whole side. Blobs go only when something else is there, and only when far larger than it.
    """
    count = len(stats)
    is_blob = np.zeros(count, dtype=bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        share = np.bincount(side, minlength=count + 1)[1:] / len(side)  # as np.mean(side == label)
        is_blob |= share >= BORDER_BLOB_SIDE
    if not is_blob.any() or is_blob.all():
        return np.arange(count)
    rest, blobs = np.flatnonzero(~is_blob), np.flatnonzero(is_blob)
    boxes = stats[:, 2].astype(np.int64) * stats[:, 3]  # width * height
    biggest_rest = boxes[rest].max()
    return np.concatenate([rest, blobs[boxes[blobs] <= BORDER_BLOB_AREA_RATIO * biggest_rest]])


def _without_specks(stats: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """`indices` without the specks: fewer than MIN_COMPONENT_AREA pixels or SPECK_SHARE of the largest."""
    if indices.size == 0:
        return indices
    areas = stats[indices, 4].astype(np.int64)
    return indices[areas >= max(MIN_COMPONENT_AREA, SPECK_SHARE * int(areas.max()))]


class _Boxes:
    """The groups' boxes and ink as arrays (kept in step with the groups), to test many pairs at once."""

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self.top, self.bottom, self.left, self.right, self.area = (
            np.array([getattr(g, name) for g in groups], dtype=np.int64) for name in ("top", "bottom", "left", "right", "area"))

    def absorb(self, i: int, other: Group) -> None:
        """Group i takes in `other`."""
        group = self.groups[i]
        group.absorb(other)
        self.top[i], self.bottom[i], self.left[i], self.right[i], self.area[i] = group.top, group.bottom, group.left, group.right, group.area

    def gaps(self, a, b) -> tuple[np.ndarray, np.ndarray]:
        """(horizontal, vertical) empty space between boxes a and b (indices or index arrays), as Group.gap_to."""
        horizontal = np.maximum(0, np.maximum(self.left[a], self.left[b]) - np.minimum(self.right[a], self.right[b]))
        vertical = np.maximum(0, np.maximum(self.top[a], self.top[b]) - np.minimum(self.bottom[a], self.bottom[b]))
        return horizontal, vertical

    def gaps_to(self, other: Group) -> tuple[np.ndarray, np.ndarray]:
        """(horizontal, vertical) empty space between every box and `other`'s."""
        horizontal = np.maximum(0, np.maximum(other.left, self.left) - np.minimum(other.right, self.right))
        vertical = np.maximum(0, np.maximum(other.top, self.top) - np.minimum(other.bottom, self.bottom))
        return horizontal, vertical

    def parts_of_one(self, a, b) -> np.ndarray:
        """Whether box b is a part of the same digit as box a (`_merge_parts`' test, for many pairs at once)."""
        height_a, height_b = self.bottom[a] - self.top[a], self.bottom[b] - self.top[b]
        size = np.maximum(height_a, height_b)
        horizontal, vertical = self.gaps(a, b)
        shared = np.minimum(self.right[a], self.right[b]) - np.maximum(self.left[a], self.left[b])
        narrower = np.maximum(1, np.minimum(self.right[a] - self.left[a], self.right[b] - self.left[b]))
        overlapping = (np.maximum(0, shared) / narrower >= MERGE_X_OVERLAP) & (vertical <= MERGE_Y_GAP * size)
        touching = (horizontal <= TOUCH_GAP * size) & (vertical <= TOUCH_GAP * size)
        small_part = ((self.area[b] < SMALL_PART_AREA * self.area[a]) & (horizontal <= SMALL_PART_X_GAP * size)
                      & (vertical <= PART_Y_REACH * size))
        return overlapping | touching | small_part


def _merge_parts(groups: list[Group]) -> list[Group]:
    """Merge the parts of one digit: boxes overlapping by half the narrower width, or nearly touching.

    The groups, largest first, are merged pair by pair: always the first pair (i, j), i < j, in that
    order that passes the test, group i taking in group j, until no pair passes. Searched in numpy:
    all groups before i are known to pass with none, so after a merge only the grown group i can have
    become a partner of one before it (which then takes it in), and the search goes on from there.
    """
    groups = sorted(groups, key=lambda g: -g.area)
    boxes, alive = _Boxes(groups), np.ones(len(groups), dtype=bool)
    i = 0
    while i < len(groups):
        if not alive[i]:
            i += 1
            continue
        partners = alive[i + 1 :] & boxes.parts_of_one(i, np.arange(i + 1, len(groups)))
        if not partners.any():
            i += 1
            continue
        j = i + 1 + int(np.argmax(partners))
        boxes.absorb(i, groups[j])
        alive[j] = False
        while True:  # the grown group i may now be a part of one before it
            earlier = alive[:i] & boxes.parts_of_one(np.arange(i), i)
            if not earlier.any():
                break
            k = int(np.argmax(earlier))
            boxes.absorb(k, groups[i])
            alive[i] = False
            i = k
    return [group for group, kept in zip(groups, alive) if kept]


def digit_groups(mask: np.ndarray, contrast: np.ndarray) -> tuple[np.ndarray, list[Group]]:
    """The digits in a cleaned ink mask, left to right; also the label image their `labels` refer to.

    A group is a digit when it is at least a third as tall as the tallest group and at least
    2.5 % of the frame's shorter side (and 5 px) tall: specks never become digits, nor do clusters of
    them (`_speck_cluster`), nor a few of them among many scattered ones (`SPECKLED_MARKS`).

    Raises:
        ImageError: more than MAX_MARKS marks (a grid of dots, noise): no digit nor a row of digits.
    """
    labels, count, stats = image_ops.label(mask)
    if count == 0:
        return labels, []
    kept = _without_specks(stats, _without_border_blobs(stats, labels))
    if kept.size > MAX_MARKS:
        raise ImageError(f"no digit found: too many separate marks ({kept.size:,}; a digit or a row of digits has a few)")
    if kept.size == 0:
        return labels, []
    groups = _merge_parts(_groups(stats, image_ops.sum_labels(contrast, labels, count), kept))
    floor = max(MIN_DIGIT_HEIGHT, MIN_DIGIT_HEIGHT_SHARE * min(mask.shape))
    groups = [group for group in groups if not _speck_cluster(group, floor)]
    if not groups:
        return labels, []
    tallest = max(group.height for group in groups)
    tall_enough = max(floor, tallest / TALLEST_PER_DIGIT)
    digits = [group for group in groups if group.height >= tall_enough]
    _attach_strokes(digits, [group for group in groups if group.height < tall_enough])
    if kept.size > SPECKLED_MARKS and sum(d.area for d in digits) < DIGIT_INK_SHARE * int(stats[kept, 4].sum()):
        return labels, []
    digits = _split_touching(digits, labels, contrast)
    return labels, sorted(digits, key=lambda g: (g.left + g.right) / 2)


def _speck_cluster(group: Group, floor: float) -> bool:
    """Whether `group` is specks merged together, not a digit nor a stroke (SPECK_OF_FLOOR, CLUSTER_PARTS)."""
    if group.part_size < SPECK_OF_FLOOR * floor:
        return True
    return len(group.labels) > CLUSTER_PARTS and group.part_size < CLUSTER_PART_SHARE * max(group.height, group.width)


def _attach_strokes(digits: list[Group], parts: list[Group]) -> None:
    """Give each stroke too short to be a digit to the nearest digit when it lies close to it.

    A 5's detached bar drawn off to the right overlaps its body by less than half and is too large
    for a "small part", so the merging above leaves it alone; dropped, it turns the 5 into a 3. A part
    joins a digit when it holds at least a tenth of the digit's ink and its box is within 0.2 of the
    digit's height sideways and 0.3 vertically; of several such digits, the nearest (the first
    listed, the larger, when it overlaps two). Parts go largest first, each measured against the
    digit as grown by the parts before it.
    """
    if not digits or not parts:
        return
    boxes = _Boxes(digits)
    for part in sorted(parts, key=lambda g: -g.area):
        horizontal, vertical = boxes.gaps_to(part)
        height = boxes.bottom - boxes.top
        near = np.flatnonzero((part.area >= STROKE_MIN_INK * boxes.area) & (horizontal <= STROKE_X_REACH * height)
                              & (vertical <= PART_Y_REACH * height))
        if near.size:
            distances = [math.hypot(int(horizontal[k]), int(vertical[k])) for k in near]  # as before: math.hypot
            boxes.absorb(int(near[distances.index(min(distances))]), part)


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
    Dynamic programming over (parts so far, column), all columns' part starts searched at once in numpy.
    """
    width = len(profile)
    parts = max(2, round(width / (DIGIT_ASPECT * height)))
    even = width / parts
    narrowest, widest = max(1, int(MIN_PART_ASPECT * height)), max(2, int(MAX_PART_ASPECT * height))
    ink = CUT_INK_WEIGHT * np.convolve(profile, np.ones(3) / 3, mode="same") / height  # (width,) smoothed over 3 columns
    ink = np.append(ink, 0.0)  # the group's right edge is no cut
    # Every part end (row) against every part width (column), widest first: starts ascend along a row.
    ends = np.arange(width + 1)
    part_widths = np.arange(widest, narrowest - 1, -1)
    starts = ends[:, None] - part_widths[None, :]  # (width + 1, widths)
    outside = starts < 0
    first_inside = np.minimum(np.maximum(0, widest - ends), len(part_widths) - 1)  # each row's first start >= 0
    starts = np.maximum(starts, 0)
    penalty = np.log(part_widths / even) ** 2  # (widths,)
    reachable = ends >= narrowest
    best = np.full(width + 1, np.inf)  # best[x]: the least cost of cutting columns 0..x-1 into the parts so far
    best[0] = 0.0
    previous = np.zeros((parts + 1, width + 1), dtype=int)
    for part in range(1, parts + 1):
        costs = best[starts] + penalty
        costs[outside] = np.inf
        pick = np.argmin(costs, axis=1)
        least = costs[ends, pick]
        pick = np.where(np.isfinite(least), pick, first_inside)  # none finite: the first start, as argmin would
        best = np.where(reachable, least + ink[ends], np.inf)
        previous[part] = np.where(reachable, starts[ends, pick], 0)
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
        pieces.append(Group(top, bottom, left, right, int(ink.sum()), mass, list(group.labels), len(bounds) - 1, group.part_size))
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
    counts = np.bincount(box.ravel(), minlength=max(group.labels) + 1)[group.labels]
    own = box == group.labels[int(np.argmax(counts))]  # its largest component (the first, on a tie)
    filled = image_ops.fill_holes(own)
    holes = filled.sum() - own.sum()
    if own.sum() < PATCH_MIN_FILL * own.size or not PATCH_MIN_HOLES * filled.sum() <= holes <= PATCH_MAX_HOLES * filled.sum():
        return None
    patch = np.zeros(labels.shape, dtype=bool)
    patch[group.top : group.bottom, group.left : group.right] = image_ops.erode(filled, iterations=1)
    return patch if patch.any() else None


def in_row(groups: list[Group]) -> list[Group]:
    """The groups that sit on the main row: vertically overlapping the tallest group's band."""
    if not groups:
        return groups
    anchor = max(groups, key=lambda g: g.mass)
    return [g for g in groups if min(g.bottom, anchor.bottom) - max(g.top, anchor.top) >= ROW_OVERLAP * min(g.height, anchor.height)]
