"""Grouping ink components into digits: one digit in a photo, or a row of digits read left to right.

Works on the cleaned ink mask of `ink.find_ink` (work scale). Components are labelled with
`image_ops` (8-connected); specks, page edges and tables along the border are dropped; the parts of
one digit (a 5's detached bar, a broken stroke, the dot of a pen lifted) are merged when they overlap
horizontally or nearly touch; what remains, if it is digit-sized, is a digit, and a stroke too short
to be one joins the digit it lies next to.
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
