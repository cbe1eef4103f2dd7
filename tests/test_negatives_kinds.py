"""The non-digit generators of benchmarks/negatives.py: the held-out kinds summed apart are real,
held-out kinds (a typo would pool none and report 0 %), and every kind draws the same image again."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import negatives  # noqa: E402


@pytest.mark.parametrize("group", ["LATE_HELD_OUT", "FRESH_HELD_OUT"])
def test_the_kinds_summed_apart_are_held_out_kinds(group):
    names = getattr(negatives, group)
    assert names and len(set(names)) == len(names)
    for name in names:
        assert name in negatives.KINDS and negatives.KINDS[name].training is False, name


@pytest.mark.parametrize("name", negatives.FRESH_HELD_OUT)
def test_a_fresh_kind_draws_a_repeatable_image(name):
    (first, tag), = negatives.images(name, 1, seed=5, start=3)
    (again, tag_again), = negatives.images(name, 1, seed=5, start=3)
    assert tag == tag_again and np.array_equal(np.asarray(first), np.asarray(again))
    assert 100 <= max(first.size) <= 400 and np.asarray(first).std() > 5  # a realistic frame, not blank
