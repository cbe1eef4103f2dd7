"""The non-digit generators of benchmarks/negatives.py: the held-out kinds summed apart are real,
held-out kinds (a typo would pool none and report 0 %), and every kind draws the same image again."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import negatives  # noqa: E402


@pytest.mark.parametrize("group", ["LATE_HELD_OUT", "FRESH_HELD_OUT", "FRESH_HELD_OUT_2", "FRESH_HELD_OUT_3", "FRESH_HELD_OUT_4", "FRESH_HELD_OUT_5", "FRESH_HELD_OUT_6"])
def test_the_kinds_summed_apart_are_held_out_kinds(group):
    names = getattr(negatives, group)
    assert names and len(set(names)) == len(names)
    for name in names:
        assert name in negatives.KINDS and negatives.KINDS[name].training is False, name


@pytest.mark.parametrize("name", negatives.FRESH_HELD_OUT + negatives.FRESH_HELD_OUT_2 + negatives.FRESH_HELD_OUT_3 + negatives.FRESH_HELD_OUT_4 + negatives.FRESH_HELD_OUT_5 + negatives.FRESH_HELD_OUT_6)
def test_a_fresh_kind_draws_a_repeatable_image(name):
    (first, tag), = negatives.images(name, 1, seed=5, start=3)
    (again, tag_again), = negatives.images(name, 1, seed=5, start=3)
    assert tag == tag_again and np.array_equal(np.asarray(first), np.asarray(again))
    assert 100 <= max(first.size) <= 400 and np.asarray(first).std() > 5  # a realistic frame, not blank


def test_glyphs_leave_out_digit_like_glyphs_bars_and_the_listed_ones():
    blocks = ((0x2220, 0x2226), (0x25B2, 0x25B2), (0x25CB, 0x25CB))  # angles, divides, a triangle, a circle
    kept = {character for character, _ in negatives.glyphs(("DejaVuSans.ttf",), blocks)}
    assert "\u25b2" in kept and "\u2220" in kept  # a filled triangle, an angle sign: no digit
    assert "\u2223" not in kept  # divides: a bar, a 1
    assert "\u25cb" not in kept  # a white circle: read as 0
    left_out = negatives.glyphs(("DejaVuSans.ttf",), blocks, frozenset({0x2220}))
    assert "\u2220" not in {character for character, _ in left_out}


def test_the_georgian_and_lao_letters_leave_out_the_listed_digit_like_ones():
    pool = {character for character, _ in negatives.glyphs(negatives.FONTS_A + negatives.FONTS_B, negatives.GEORGIAN_LAO_BLOCKS, negatives.GEORGIAN_LEFT_OUT)}
    assert len(pool) > 50 and not pool & set(map(chr, negatives.GEORGIAN_LEFT_OUT))
    assert {"\u10d2", "\u0e81"} <= pool  # გ, ກ: a Georgian and a Lao letter kept


def test_the_armenian_and_hebrew_letters_leave_out_the_listed_digit_like_ones_and_punctuation():
    pool = {character for character, _ in negatives.glyphs(negatives.FONTS_A + negatives.FONTS_B, negatives.ARMENIAN_HEBREW_BLOCKS, negatives.ARMENIAN_HEBREW_LEFT_OUT)}
    assert len(pool) > 50 and not pool & set(map(chr, negatives.ARMENIAN_HEBREW_LEFT_OUT))
    assert {"\u0531", "\u05d0"} <= pool  # Ա, א: an Armenian and a Hebrew letter kept
    assert "\u055e" not in pool  # the Armenian question mark: a sign, not a letter


def test_the_lisu_and_old_italic_letters_leave_out_the_listed_digit_like_ones():
    pool = {character for character, _ in negatives.glyphs(negatives.FONTS_A + negatives.FONTS_B, negatives.LISU_OLD_ITALIC_BLOCKS, negatives.LISU_OLD_ITALIC_LEFT_OUT)}
    assert len(pool) > 20 and not pool & set(map(chr, negatives.LISU_OLD_ITALIC_LEFT_OUT))
    assert {"\ua4d1", "\U0001030c"} <= pool  # a Lisu P, an Old Italic M: kept


def test_the_handwritten_words_use_only_letters_the_script_style_draws():
    assert all(letter in negatives.SCRIPT_LETTERS for word in negatives.WORDS for letter in word)
    assert all(2 <= len(word) <= 4 for word in negatives.WORDS)


def test_the_training_glyphs_share_no_character_or_face_with_a_held_out_glyph_kind():
    training = {character for _, blocks in negatives.TRAINING_GLYPH_BLOCKS for character, _ in negatives.glyphs(negatives.FONTS_A, blocks)}
    assert len(training) > 300
    held_out_blocks = negatives.GEORGIAN_LAO_BLOCKS + negatives.ARMENIAN_HEBREW_BLOCKS + ((0x0370, 0x03FF), (0x0400, 0x04FF), (0x0080, 0x00FF), (0x20A0, 0x20CF))
    assert not [c for c in training if any(low <= ord(c) <= high for low, high in held_out_blocks)]
    assert not training & set(negatives.SIGNS + negatives.OTHER_SCRIPT_LETTERS + "".join(negatives.LETTERS))
    assert not set(negatives.FONTS_A) & set(negatives.FONTS_B)


@pytest.mark.parametrize("name", ["printed glyphs of other scripts and symbol blocks", "more doodles (key, leaf, kite, bird, candle, book, fork, tent, crown)"])
def test_the_sixth_builds_training_kinds_are_training_kinds_and_repeatable(name):
    assert negatives.KINDS[name].training is True
    (first, tag), = negatives.images(name, 1, seed=5, start=3)
    (again, tag_again), = negatives.images(name, 1, seed=5, start=3)
    assert tag == tag_again and np.array_equal(np.asarray(first), np.asarray(again))


def test_printed_digits_are_repeatable_and_hold_the_digit_they_are_labelled():
    """The build's printed positives: each image is drawn again the same, and the pretrained model,
    reading it as `mnist predict` does, reads the labelled digit (a label off by one would teach the
    detector that printed digits are not digits)."""
    from mnist_toolkit import load_model
    from mnist_toolkit.reading.prepare import prepare

    drawn = negatives.printed_digits(negatives.FONTS_B, 30, seed=5)
    again = negatives.printed_digits(negatives.FONTS_B, 1, seed=5, start=7)
    assert again[0][1] == drawn[7][1] and np.array_equal(np.asarray(again[0][0]), np.asarray(drawn[7][0]))
    digits = np.array([digit for _, digit in drawn])
    assert len(set(digits.tolist())) >= 8  # every digit, not one
    model = load_model("pretrained", not_a_digit=False)
    read = model.predict_proba(np.stack([prepare(image).image for image, _ in drawn])).argmax(axis=1)
    assert (read == digits).mean() >= 0.9
