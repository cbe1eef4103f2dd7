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
    return [group for group in groups if group.area >= max(3, 0.01 * largest)]


def _drop_border_blobs(groups: list[Group], labels: np.ndarray) -> list[Group]:
    """Drop a page edge or table along the border: ink covering half or more of one side of the frame.

    A digit in a tight crop touches the edges at a few strokes; the dark table beyond a page's edge
    lines a whole side. Blobs go only when something else is there, and only when far larger than it.
    """

    def is_blob(group: Group) -> bool:
        label = group.labels[0]
        sides = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
        return any(np.mean(side == label) >= 0.5 for side in sides)

    blobs = [group for group in groups if is_blob(group)]
    if not blobs:
        return groups
    rest = [group for group in groups if not is_blob(group)]
    if not rest:
        return groups
    biggest_rest = max(group.height * group.width for group in rest)
    return rest + [blob for blob in blobs if blob.height * blob.width <= 3 * biggest_rest]


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
                overlapping = first.x_overlap(second) >= 0.5 and vertical <= 0.5 * size
                touching = horizontal <= 0.04 * size and vertical <= 0.04 * size
                small_part = second.area < 0.2 * first.area and horizontal <= 0.1 * size and vertical <= 0.3 * size
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
    floor = max(5.0, 0.025 * min(mask.shape))
    tallest = max(group.height for group in groups)
    tall_enough = max(floor, tallest / 3)
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
            if part.area >= 0.1 * digit.area and horizontal <= 0.2 * digit.height and vertical <= 0.3 * digit.height:
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
    if group.height > 0.6 * height or group.width > 0.6 * width:
        return None
    box = labels[group.top : group.bottom, group.left : group.right]
    own = box == max(group.labels, key=lambda label: int(np.count_nonzero(box == label)))
    filled = image_ops.fill_holes(own)
    holes = filled.sum() - own.sum()
    if own.sum() < 0.65 * own.size or not 0.01 * filled.sum() <= holes <= 0.3 * filled.sum():
        return None
    patch = np.zeros(labels.shape, dtype=bool)
    patch[group.top : group.bottom, group.left : group.right] = image_ops.erode(filled, iterations=1)
    return patch


def in_row(groups: list[Group]) -> list[Group]:
    """The groups that sit on the main row: vertically overlapping the tallest group's band."""
    if not groups:
        return groups
    anchor = max(groups, key=lambda g: g.mass)
    return [g for g in groups if min(g.bottom, anchor.bottom) - max(g.top, anchor.top) >= 0.3 * min(g.height, anchor.height)]
