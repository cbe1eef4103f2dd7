"""The non-digit generators of benchmarks/negatives.py: the held-out kinds summed apart are real,
held-out kinds (a typo would pool none and report 0 %), and every kind draws the same image again."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import negatives  # noqa: E402


@pytest.mark.parametrize("group", ["LATE_HELD_OUT", "FRESH_HELD_OUT", "FRESH_HELD_OUT_2"])
def test_the_kinds_summed_apart_are_held_out_kinds(group):
    names = getattr(negatives, group)
    assert names and len(set(names)) == len(names)
    for name in names:
        assert name in negatives.KINDS and negatives.KINDS[name].training is False, name


NEW_TRAINING_KINDS = ("printed symbols and letters of other scripts (Armenian, Hebrew, Arabic, ...)", "photo: things in colour (random silhouettes)")


@pytest.mark.parametrize("name", negatives.FRESH_HELD_OUT + negatives.FRESH_HELD_OUT_2 + NEW_TRAINING_KINDS)
def test_a_fresh_kind_draws_a_repeatable_image(name):
    (first, tag), = negatives.images(name, 1, seed=5, start=3)
    (again, tag_again), = negatives.images(name, 1, seed=5, start=3)
    assert tag == tag_again and np.array_equal(np.asarray(first), np.asarray(again))
    assert 100 <= max(first.size) <= 400 and np.asarray(first).std() > 5  # a realistic frame, not blank


def test_the_new_training_kinds_train():
    assert all(negatives.KINDS[name].training for name in NEW_TRAINING_KINDS)


def test_glyphs_leave_out_digit_like_glyphs_bars_and_the_listed_ones():
    blocks = ((0x2220, 0x2226), (0x25B2, 0x25B2), (0x25CB, 0x25CB))  # angles, divides, a triangle, a circle
    kept = {character for character, _ in negatives.glyphs(("DejaVuSans.ttf",), blocks)}
    assert "\u25b2" in kept and "\u2220" in kept  # a filled triangle, an angle sign: no digit
    assert "\u2223" not in kept  # divides: a bar, a 1
    assert "\u25cb" not in kept  # a white circle: read as 0
    left_out = negatives.glyphs(("DejaVuSans.ttf",), blocks, frozenset({0x2220}))
    assert "\u2220" not in {character for character, _ in left_out}


def test_no_symbol_is_a_held_out_letter_or_shape():
    pool = {character for character, _ in negatives.glyphs(negatives.FONTS_A, tuple(negatives.SYMBOL_BLOCKS.values()), frozenset(negatives.SYMBOLS_LEFT_OUT))}
    held_out = set(negatives.OTHER_SCRIPT_LETTERS) | {"\u2126", "\u2206", "\u220f", "\u2211", "\u2302", "\u21af"}  # Ω ∆ ∏ ∑ ⌂ ↯
    assert pool and not pool & held_out
    georgian_lao = {character for character, _ in negatives.glyphs(negatives.FONTS_A + negatives.FONTS_B, negatives.GEORGIAN_LAO_BLOCKS)}
    assert not pool & georgian_lao
