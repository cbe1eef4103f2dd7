"""Would the context around the chosen ink tell a photo from a written digit? A study for the "not a
digit" detector, on development data only (never the test split, never a held-out kind).

The detector sees only the prepared 28x28. For a photo the reading takes the darkest blob, and the
28x28 alone often cannot tell it from a digit; a cue outside it might. For each image this reads as
`mnist predict` does (`reading.prepare`'s ink and groups) and measures, on the ink-contrast map
(0 = paper, 1 = the strongest ink):
- ring_mean, ring_p90: mean and 90th percentile of the contrast in a ring around the chosen group
  (its box grown by its longer side on every side, every group's box left out);
- whole_frac: the share of the frame outside the groups with contrast above a quarter of the peak.
Real digits: the real-world sets' development split (MNIST training digits, seed 11); non-digits:
the detector's training kinds of negatives (seed 11, images 7000 on, not those it was trained on).
Reported per set and kind: how many images the reading takes at all, and the quantiles.

Usage: poetry run python benchmarks/digitness_context.py [--count 120] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from negatives import KINDS, images
from realworld_sets import build_set

from mnist_toolkit.reading.prepare import ImageError, _gray, _locate, decode, is_mnist_style

DIGIT_SETS = ("phone photos", "mnist on paper", "tight crops, thick strokes", "form boxes, 64 px", "canvas alpha",
              "other writers", "numbers")  # fmt: skip


def context(image) -> dict | None:
    """The context cues of one image, or None when the reading finds no digit-like ink in it."""
    gray, _ = _gray(image)
    if is_mnist_style(gray):
        return None
    try:
        found, _, groups = _locate(gray)
    except ImageError:
        return None
    main = max(groups, key=lambda g: g.mass)
    contrast = found.contrast / max(found.peak, 1e-6)
    height, width = contrast.shape
    grow = max(main.height, main.width)
    outside = np.ones_like(contrast, bool)
    for group in groups:
        outside[group.top : group.bottom, group.left : group.right] = False
    ring = np.zeros_like(outside)
    ring[max(0, main.top - grow) : min(height, main.bottom + grow), max(0, main.left - grow) : min(width, main.right + grow)] = True
    ring &= outside
    values = contrast[ring] if ring.sum() >= 20 else np.zeros(1, np.float32)
    rest = contrast[outside]
    return {"ring_mean": float(values.mean()), "ring_p90": float(np.percentile(values, 90)),
            "whole_frac": float((rest > 0.25).mean()) if rest.size else 0.0}  # fmt: skip


def summary(rows: list[dict], drawn: int) -> dict:
    result = {"read": len(rows), "drawn": drawn}
    for cue in ("ring_mean", "ring_p90", "whole_frac"):
        values = np.array([row[cue] for row in rows]) if rows else np.zeros(1)
        result[cue] = {q: round(float(np.percentile(values, p)), 4) for q, p in (("p10", 10), ("p50", 50), ("p99", 99), ("max", 100))}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/digitness_context.json"))
    args = parser.parse_args()
    report = {"digits": {}, "training kinds": {}}
    for name in DIGIT_SETS:
        rows = [row for sample in build_set(name, args.count, seed=11, split="train") if (row := context(decode(sample.data, name)))]
        report["digits"][name] = summary(rows, args.count)
    for kind in (name for name, kind in KINDS.items() if kind.training):
        rows = [row for image, _ in images(kind, args.count, seed=11, start=7000) if (row := context(image))]
        report["training kinds"][kind] = summary(rows, args.count)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for group, entries in report.items():
        for name, row in entries.items():
            print(f"{group:14s} {name[:40]:40s} read {row['read']:3d}/{row['drawn']}  ring_p90 p50 {row['ring_p90']['p50']:.3f} "
                  f"p99 {row['ring_p90']['p99']:.3f}  whole_frac p50 {row['whole_frac']['p50']:.3f} p99 {row['whole_frac']['p99']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
