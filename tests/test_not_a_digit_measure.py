"""The detector's measurement (benchmarks/not_a_digit.py): every refused share carries a 95 % Wilson
interval, and the issue's targets are judged on the measured share with that interval beside it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import not_a_digit as measure  # noqa: E402


@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    (81, 263, 25.53, 36.62),  # the textbook example (Wilson 1927, as in Newcombe 1998: 0.2553-0.3662)
    (3, 300, 0.34, 2.90),  # 3 of 300: the interval reaches past a 0.5 % target on both sides
    (0, 300, 0.0, 1.26),  # none refused: the upper end is not zero
    (300, 300, 98.74, 100.0),
])  # fmt: skip
def test_wilson_interval_on_known_cases(successes, trials, low, high):
    assert measure.wilson(successes, trials) == pytest.approx([low, high], abs=0.011)


def test_wilson_interval_holds_the_share_and_narrows_with_more_trials():
    for k, n in [(1, 10), (30, 1000), (997, 1000)]:
        low, high = measure.wilson(k, n)
        assert 0.0 <= low <= 100.0 * k / n <= high <= 100.0
    wide, narrow = measure.wilson(3, 300), measure.wilson(30, 3000)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 2  # ten times the trials: about a third as wide
    assert measure.wilson(0, 0) == [0.0, 100.0]  # nothing measured: nothing known


def test_wilson_interval_matches_a_normal_approximation_on_large_samples():
    k, n = 4000, 10000
    p = k / n
    half = 100 * measure.Z95 * math.sqrt(p * (1 - p) / n)
    assert measure.wilson(k, n) == pytest.approx([100 * p - half, 100 * p + half], abs=0.02)


def _digit_row(refused: int, scored: int, lost: float) -> dict:
    return {"points_lost": lost, "digits_refused_percent": round(100.0 * refused / scored, 3),
            "digits_refused_ci95": measure.wilson(refused, scored)}  # fmt: skip


def test_targets_judge_the_measured_share_and_carry_its_interval():
    summary = {"never-seen kinds (held out)": {"refused_percent": 83.28, "refused_ci95": measure.wilson(2998, 3600)},
               "never-seen letters": {"refused_percent": 89.0, "refused_ci95": measure.wilson(356, 400)}}  # fmt: skip
    digits = {"form boxes": _digit_row(3, 996, 0.1), "numbers": _digit_row(1, 2990, 0.2), "MNIST test": _digit_row(0, 10000, 0.0)}
    out = measure.targets(summary, digits)
    assert out["never-seen kinds refused"] == {"target": ">= 90.0 %", "measured": 83.28, "met": False, "ci95": [82.02, 84.46]}
    assert out["never-seen letters refused"]["met"] is True
    assert out["real-world digits refused (worst set)"]["set"] == "form boxes"
    assert out["real-world digits refused (worst set)"]["met"] is True
    assert out["real-world digits refused (worst set)"]["ci95"] == measure.wilson(3, 996)
    assert out["real-world accuracy lost (worst set)"] == {"target": "<= 0.3 points", "measured": 0.2, "met": True, "set": "numbers"}
    digits["form boxes"] = _digit_row(3, 300, 0.33)  # the same three refusals on 300 images: 1 %, over the target
    out = measure.targets(summary, digits)
    assert out["real-world digits refused (worst set)"]["met"] is False
    assert out["real-world accuracy lost (worst set)"]["met"] is False
    assert np.isclose(out["MNIST test digits refused"]["measured"], 0.0)


class _StandIn:
    """A detector refusing inputs whose first pixel is 1, a model answering the second pixel."""

    def is_digit(self, images, contexts):
        return images[:, 0, 0] != 1

    def predict_proba(self, images):
        return np.eye(10)[images[:, 0, 1]]


def test_digit_sets_of_single_digits_report_which_digits_are_refused():
    def record(label: str, refused: bool, answer: int) -> dict:
        image = np.zeros((28, 28), np.uint8)
        image[0, 0], image[0, 1] = int(refused), answer
        return {"label": label, "digits": [image], "contexts": None}

    records = [record("1", True, 1), record("1", False, 1), record("4", False, 4), record("4", False, 9),
               {"label": "7", "digits": None, "contexts": None}]  # the reading refused the 7: not scored
    row = measure.measure_digits("printed", records, _StandIn(), _StandIn())
    assert row["digits_refused_percent_per_digit"] == {"1": 50.0, "4": 0.0}
    assert row["digits_refused"] == 1 and row["digits_scored"] == 4
    assert row["accuracy_before"] == 60.0 and row["accuracy_after"] == 40.0  # 3 of 5 right; the refused 1 lost
    numbers = measure.measure_digits("numbers", [{"label": "14", "digits": [records[0]["digits"][0], records[2]["digits"][0]],
                                                  "contexts": None}], _StandIn(), _StandIn())  # fmt: skip
    assert "digits_refused_percent_per_digit" not in numbers and numbers["numbers_with_a_refused_digit"] == 1
