"""The real pictures of the "not a digit" build (benchmarks/pictures.py): which stamps a source keeps.
The shipped detector's context networks learn Open Clip Art stamps, so the rule must keep things and
leave out digits, letters, signs and the subjects of the held-out kinds of negatives.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import pictures  # noqa: E402

OPENCLIPART = pictures.SOURCES["openclipart"]


@pytest.mark.parametrize("path", ["animals/mammals/bears/brown_bear_01.png", "food/desserts/muffin_01.png", "tools/hammer_01.png"])
def test_openclipart_keeps_things(path):
    assert pictures.kept_stamp(OPENCLIPART, Path(path), 400 * 300)


@pytest.mark.parametrize("path", [
    "computer/icons/folder_01.png",  # a folder not kept: icons, often with text
    "education/abc_blocks_01.png", "signs_and_symbols/stop_01.png", "shapes/star_01.png",
    "recreation/games/cards/ace_01.png", "transportation/roadsigns/speed_30_01.png",  # digits on them
    "people/smilies/happy_01.png", "electronics/bulb/bulb_01.png", "recreation/music/note_01.png",  # held-out kinds' subjects
    "food/fruit/banana_01.png", "buildings/furniture/chair_01.png", "tools/scissors_01.png", "transportation/vehicles/car_01.png",
])  # fmt: skip
def test_openclipart_leaves_out_digits_letters_signs_and_held_out_subjects(path):
    assert not pictures.kept_stamp(OPENCLIPART, Path(path), 400 * 300)


def test_a_huge_stamp_is_left_out_and_tux_paint_keeps_every_folder():
    assert not pictures.kept_stamp(OPENCLIPART, Path("animals/elephant_01.png"), pictures.MAX_STAMP_PIXELS + 1)
    assert pictures.kept_stamp(pictures.SOURCES["tuxpaint"], Path("food/pizza.png"), 400 * 300)


def test_every_held_out_drawn_subject_is_a_left_out_word():
    for subject in ("heart", "smil", "flower", "house", "bulb", "note", "scissor", "anchor", "envelope", "bicycle", "cup", "lightning"):
        assert subject in OPENCLIPART.left_out_words, subject
