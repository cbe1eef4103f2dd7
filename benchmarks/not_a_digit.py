"""How well the shipped "not a digit" detector refuses images without a digit, and what it costs real digits.

- Non-digits: every kind of `negatives.py`, `--count` fresh images each (seed EVAL_SEED; the build drew
  its training and check images with seed 0), read as `mnist predict` reads one digit (`prepare`).
  Per kind: images, refused by the reading ("no digit found"), refused by the detector, refused in all,
  and confident answers: of the images not refused, how many the pretrained classifier answers with a
  calibrated confidence of at least CONFIDENT (and how many it did without the detector). Kinds used in
  training ("seen") and held out ("never seen") are summed apart; letters never seen are also summed
  alone (the issue's target for them is lower).
- Digits: the real-world sets of `realworld_sets.py`, TEST split, seed 0 (as predict_realworld.py
  reports them), and the 10,000 MNIST test digits: accuracy before (reading + pretrained classifier; a
  sample the reading refuses counts wrong) and after the detector (a refused digit counts wrong), points
  lost, and the share of digits refused. A number counts right when all its digits are, none refused.
- Printed digits (since 2026-12-03, `negatives.printed_digits`, seed EVAL_SEED): digits printed on
  paper as the glyph negatives are, in the sans faces the build trains on (fresh images) and in the
  serif faces it never trains on, measured as the digit sets are; reported apart (`printed_digits`),
  not in the issue's targets, which are the real-world sets'.
- Noise read as a number (`prepare_number`): how many noise images still give a number.

Every refused share comes with its 95 % Wilson interval (`wilson`): with 300 digits one image is 0.33 %,
so a target of 0.5 % cannot be told from 1 % on such a set; the digit sets are therefore 1,000
samples each (300 until 2026-12-03: the numbers of that size are kept in docs/benchmarks.md).

Writes benchmarks/results/not_a_digit.json; with --update-card, also the summary into the detector's
card (digitness.json, "measured"), for the ONNX file measured.

Usage: poetry run python benchmarks/not_a_digit.py [--count 200] [--digit-count 1000] [--workers 2] [--update-card]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see build_digitness.py

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import negatives  # noqa: E402
from build_digitness import _negatives_chunk, _printed_chunk, read_realworld  # noqa: E402
from realworld_sets import SETS  # noqa: E402

from mnist_toolkit.data.source import load_split, resolve_source  # noqa: E402
from mnist_toolkit.files import write_json  # noqa: E402
from mnist_toolkit.inference.digitness import DETECTOR_DIR, DETECTOR_NAME, load_detector  # noqa: E402
from mnist_toolkit.inference.loading import load_model, pretrained_choice  # noqa: E402
from mnist_toolkit.reading.prepare import ImageError, prepare_number  # noqa: E402

#: Fresh images: the build used seed 0 (training images and its own check of the training kinds).
EVAL_SEED = 2
#: The real-world test sets: MNIST's test split with seed 0, as predict_realworld.py reports them.
TEST_SEED = 0
#: Printed digits per face set (`negatives.printed_digits`).
PRINTED_COUNT = 1000
#: An answer given with at least this calibrated confidence is a confident one.
CONFIDENT = 0.9
OUT = HERE / "results" / "not_a_digit.json"
#: The issue's targets: refused shares of never-seen non-digits (at least), what real digits may cost (at most).
NEVER_SEEN_REFUSED, NEVER_SEEN_LETTERS_REFUSED = 90.0, 80.0
POINTS_LOST, DIGITS_REFUSED = 0.3, 0.5
CHUNK = 100
#: The normal quantile of a two-sided 95 % interval.
Z95 = 1.959964


def wilson(successes: int, trials: int, z: float = Z95) -> list[float]:
    """The Wilson score interval of a proportion, in percent: [low, high] (rounded to 2 places).

    Unlike the normal approximation it stays inside [0, 100] and is not empty at 0 of n.
    """
    if trials <= 0:
        return [0.0, 100.0]
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return [round(100.0 * max(0.0, float(centre - half)), 2), round(100.0 * min(1.0, float(centre + half)), 2)]


def _noise_as_number(count: int) -> list[list[tuple[np.ndarray, np.ndarray]] | None]:
    """Noise images read as a number: (the 28x28, its context view) of each digit found, or None when none is."""
    out = []
    for image, _ in negatives.images("noise", count, EVAL_SEED):
        try:
            out.append([(p.image, p.context) for p in prepare_number(image)])
        except ImageError:
            out.append(None)
    return out


def measure_negatives(results: dict, detector, model) -> dict:
    """Per kind: images, refused by the reading and by the detector, confident answers before and after."""
    table = {}
    for name, read_ in results.items():
        kind = negatives.KINDS[name]
        kept = [item for item, _ in read_ if item is not None]
        images = np.stack([image for image, _ in kept]) if kept else np.zeros((0, 28, 28), np.uint8)
        contexts = np.stack([view for _, view in kept]) if kept else None
        tags = [tag for item, tag in read_ if item is not None]
        accepted = detector.is_digit(images, contexts) if len(images) else np.zeros(0, bool)
        confident = model.predict_proba(images).max(axis=1) >= CONFIDENT if len(images) else np.zeros(0, bool)
        by_tag = defaultdict(lambda: [0, 0])
        for image, tag in read_:
            by_tag[tag.split(" ")[0] if kind.group == "letters" else tag][0] += 1
        for tag, ok in zip(tags, accepted):
            by_tag[tag.split(" ")[0] if kind.group == "letters" else tag][1] += int(ok)
        drawn, by_reading = len(read_), len(read_) - len(images)
        table[name] = {
            "group": kind.group, "role": "seen (training)" if kind.training else "never seen (held out)",
            "images": drawn, "refused_by_reading": by_reading, "refused_by_detector": int((~accepted).sum()),
            "refused_percent": round(100.0 * (drawn - int(accepted.sum())) / drawn, 2),
            "refused_ci95": wilson(drawn - int(accepted.sum()), drawn),
            "confident_answers_before": int(confident.sum()), "confident_answers_after": int((confident & accepted).sum()),
            "accepted_by_what": {tag: f"{kept}/{total} accepted" for tag, (total, kept) in sorted(by_tag.items()) if kept} if kind.group == "letters" else None,
        }  # fmt: skip
        if table[name]["accepted_by_what"] is None:
            del table[name]["accepted_by_what"]
    return table


def _pooled(table: dict, keep) -> dict:
    rows = [row for name, row in table.items() if keep(name, row)]
    images = sum(r["images"] for r in rows)
    refused = sum(r["refused_by_reading"] + r["refused_by_detector"] for r in rows)
    return {"kinds": len(rows), "images": images, "refused": refused, "refused_percent": round(100.0 * refused / max(images, 1), 2),
            "refused_ci95": wilson(refused, images),
            "confident_answers_before": sum(r["confident_answers_before"] for r in rows),
            "confident_answers_after": sum(r["confident_answers_after"] for r in rows)}  # fmt: skip


def targets(summary: dict, digits: dict) -> dict:
    """Each of the issue's targets: what it asks, what was measured, and whether it is met."""
    realworld = {name: row for name, row in digits.items() if name != "MNIST test"}
    worst_lost = max(realworld.items(), key=lambda item: item[1]["points_lost"])
    worst_refused = max(realworld.items(), key=lambda item: item[1]["digits_refused_percent"])
    never, letters, mnist = summary["never-seen kinds (held out)"], summary["never-seen letters"], digits["MNIST test"]
    # name: (what it asks, the bound, at least (else at most), measured, its 95 % interval, the set)
    rows = {
        "never-seen kinds refused": (f">= {NEVER_SEEN_REFUSED} %", NEVER_SEEN_REFUSED, True, never["refused_percent"], never["refused_ci95"], None),
        "never-seen letters refused": (f">= {NEVER_SEEN_LETTERS_REFUSED} %", NEVER_SEEN_LETTERS_REFUSED, True, letters["refused_percent"], letters["refused_ci95"], None),
        "real-world accuracy lost (worst set)": (f"<= {POINTS_LOST} points", POINTS_LOST, False, worst_lost[1]["points_lost"], None, worst_lost[0]),
        "real-world digits refused (worst set)": (f"<= {DIGITS_REFUSED} %", DIGITS_REFUSED, False, worst_refused[1]["digits_refused_percent"],
                                                  worst_refused[1]["digits_refused_ci95"], worst_refused[0]),
        "MNIST test digits refused": (f"<= {DIGITS_REFUSED} %", DIGITS_REFUSED, False, mnist["digits_refused_percent"], mnist["digits_refused_ci95"], None),
    }  # fmt: skip
    out = {}
    for name, (wanted, bound, at_least, measured, interval, where) in rows.items():
        out[name] = {"target": wanted, "measured": measured, "met": bool(measured >= bound if at_least else measured <= bound)}
        if interval:
            out[name]["ci95"] = interval
        if where:
            out[name]["set"] = where
    return out


def measure_digits(name: str, records: list[dict], detector, model) -> dict:
    """Accuracy before and after the detector, and the share of digits it refuses, on one set."""
    flat = [d for r in records if r["digits"] for d in r["digits"]]
    images = np.stack(flat) if flat else np.zeros((0, 28, 28), np.uint8)
    read_ = [r for r in records if r["digits"]]
    # the views around each digit; none for MNIST's own 28x28 digits (the detector takes each as an image of its own)
    contexts = np.stack([c for r in read_ for c in r["contexts"]]) if read_ and all(r.get("contexts") for r in read_) else None
    answers = model.predict_proba(images).argmax(axis=1) if len(images) else np.zeros(0, int)
    accepted = detector.is_digit(images, contexts) if len(images) else np.zeros(0, bool)
    right_before = right_after = at = 0
    numbers_refused = 0
    for r in records:
        if not r["digits"]:
            continue
        count = len(r["digits"])
        read_ = "".join(str(a) for a in answers[at : at + count])
        ok = bool(accepted[at : at + count].all())
        right_before += read_ == r["label"]
        right_after += read_ == r["label"] and ok
        numbers_refused += not ok
        at += count
    samples = len(records)
    before, after = 100.0 * right_before / samples, 100.0 * right_after / samples
    row = {"samples": samples, "refused_by_reading": sum(r["digits"] is None for r in records), "digits_scored": len(images),
           "accuracy_before": round(before, 2), "accuracy_after": round(after, 2), "points_lost": round(before - after, 2),
           "digits_refused": int((~accepted).sum()), "digits_refused_percent": round(100.0 * float((~accepted).mean()) if len(images) else 0.0, 3),
           "digits_refused_ci95": wilson(int((~accepted).sum()), len(images))}  # fmt: skip
    if name == "numbers":
        row["numbers_with_a_refused_digit"] = numbers_refused
    labels = [r["label"] for r in records if r["digits"]]
    if labels and all(len(label) == 1 for label in labels):  # one digit per image: which digits are refused
        refused = ~accepted
        row["digits_refused_percent_per_digit"] = {digit: round(100.0 * float(refused[[label == digit for label in labels]].mean()), 2)
                                                   for digit in sorted(set(labels))}  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="images per kind of non-digit")
    parser.add_argument("--digit-count", type=int, default=1000, help="samples per real-world set")
    parser.add_argument("--workers", type=int, default=2, help="processes reading the images")
    parser.add_argument("--detector", type=Path, default=DETECTOR_DIR / f"{DETECTOR_NAME}.onnx")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--update-card", action="store_true", help="write the summary into the detector's card")
    args = parser.parse_args()
    started = time.perf_counter()
    test = load_split(resolve_source(), "test")

    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("fork")) as pool:
        sets = {name: pool.submit(read_realworld, name, args.digit_count, TEST_SEED, test.images, test.labels) for name in SETS}
        negs = {name: [pool.submit(_negatives_chunk, name, EVAL_SEED, i, min(CHUNK, args.count - i)) for i in range(0, args.count, CHUNK)] for name in negatives.KINDS}
        noise = pool.submit(_noise_as_number, args.count)
        printed = {name: [pool.submit(_printed_chunk, fonts, EVAL_SEED, i, min(CHUNK, PRINTED_COUNT - i)) for i in range(0, PRINTED_COUNT, CHUNK)]
                   for name, fonts in (("printed digits, sans faces (trained on)", negatives.FONTS_A),
                                       ("printed digits, serif faces (never trained on)", negatives.FONTS_B))}  # fmt: skip
        detector = load_detector(args.detector)  # after the workers are forked: they need neither
        model = load_model(pretrained_choice())
        kinds = measure_negatives({name: [item for f in futures for item in f.result()] for name, futures in negs.items()}, detector, model)
        digits = {name: measure_digits(name, future.result(), detector, model) for name, future in sets.items()}
        as_number = noise.result()
        printed_digits = {}
        for name, futures in printed.items():
            records = [{"label": str(digit), "digits": None if read_ is None else [read_[0]], "contexts": None if read_ is None else [read_[1]]}
                       for future in futures for read_, digit in future.result()]  # fmt: skip
            printed_digits[name] = measure_digits(name, records, detector, model)
    mnist = [{"label": str(label), "digits": [image], "contexts": None} for image, label in zip(test.images, test.labels)]
    digits["MNIST test"] = measure_digits("MNIST test", mnist, detector, model)
    gave = [n for n in as_number if n]
    # a number is given only when every digit of it is accepted (as `mnist predict --number` answers)
    accepted_numbers = sum(bool(detector.is_digit(np.stack([i for i, _ in n]), np.stack([c for _, c in n])).all()) for n in gave)

    late, fresh, fresh_2, fresh_3, fresh_4, fresh_5, fresh_6 = (negatives.LATE_HELD_OUT, negatives.FRESH_HELD_OUT, negatives.FRESH_HELD_OUT_2,
                                                               negatives.FRESH_HELD_OUT_3, negatives.FRESH_HELD_OUT_4, negatives.FRESH_HELD_OUT_5,
                                                               negatives.FRESH_HELD_OUT_6)
    summary = {
        "seen kinds (training)": _pooled(kinds, lambda name, row: row["role"].startswith("seen")),
        "never-seen kinds (held out)": _pooled(kinds, lambda name, row: row["role"].startswith("never")),
        "never-seen letters": _pooled(kinds, lambda name, row: row["role"].startswith("never") and row["group"] == "letters"),
        "never-seen kinds but letters": _pooled(kinds, lambda name, row: row["role"].startswith("never") and row["group"] != "letters"),
        "never-seen kinds measured before the last training kinds were added": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in late + fresh + fresh_2 + fresh_3 + fresh_4 + fresh_5),
        "never-seen kinds added after (fresh)": _pooled(kinds, lambda name, row: name in late),
        "never-seen kinds but those added on 2026-12-03": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in fresh + fresh_2 + fresh_3 + fresh_4 + fresh_5),
        "never-seen kinds added on 2026-12-03 (first set)": _pooled(kinds, lambda name, row: name in fresh),
        "never-seen kinds of the second set of 2026-12-03": _pooled(kinds, lambda name, row: name in fresh_2),
        "never-seen kinds but the third, fourth and fifth sets of 2026-12-03": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in fresh_3 + fresh_4 + fresh_5),
        "never-seen kinds of the third set of 2026-12-03": _pooled(kinds, lambda name, row: name in fresh_3),
        "never-seen kinds but the fourth and fifth sets of 2026-12-03": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in fresh_4 + fresh_5),
        "never-seen kinds of the fourth set of 2026-12-03": _pooled(kinds, lambda name, row: name in fresh_4),
        "never-seen kinds but the fifth set of 2026-12-03": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in fresh_5),
        "never-seen kinds of the fifth set of 2026-12-03": _pooled(kinds, lambda name, row: name in fresh_5),
        "never-seen kinds but the sixth set of 2026-12-03": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name not in fresh_6),
        "never-seen kinds of the sixth set of 2026-12-03 (written before any measurement)": _pooled(kinds, lambda name, row: name in fresh_6),
        "never-seen kinds but the lightning bolt (an open 4 at 28x28)": _pooled(kinds, lambda name, row: row["role"].startswith("never") and name != "lightning bolt"),
        "real digits refused, worst set (percent)": max(row["digits_refused_percent"] for row in digits.values()),
        "real-world accuracy lost, worst set (points)": max(row["points_lost"] for name, row in digits.items() if name != "MNIST test"),
        "noise read as a number": {"images": len(as_number), "gave digits (reading)": len(gave), "gave a number (after the detector)": accepted_numbers},
    }  # fmt: skip
    summary["targets"] = targets(summary, digits)
    payload = Path(args.detector).read_bytes()
    result = {
        "detector": {"file": Path(args.detector).name, "onnx_sha256": hashlib.sha256(payload).hexdigest(), "threshold": detector.threshold},
        "classifier": "the pretrained model (calibrated predict_proba)",
        "confident": CONFIDENT, "count_per_kind": args.count, "negatives_seed": EVAL_SEED,
        "digit_sets": {"split": "test", "seed": TEST_SEED, "count": args.digit_count},
        "summary": summary, "kinds": kinds, "digits": digits, "printed_digits": printed_digits, "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    write_json(args.out, result)
    if args.update_card:
        card_path = Path(args.detector).with_suffix(".json")
        card = json.loads(card_path.read_text())
        card["measured"] = {"by": "benchmarks/not_a_digit.py (results in benchmarks/results/not_a_digit.json)", "onnx_sha256": result["detector"]["onnx_sha256"],
                            "negatives": {"per_kind": args.count, "seed": EVAL_SEED}, "digit_sets": result["digit_sets"],
                            "summary": summary, "refused_percent_per_kind": {name: row["refused_percent"] for name, row in kinds.items()},
                            "digits": {name: {k: row[k] for k in ("accuracy_before", "accuracy_after", "digits_refused_percent")} for name, row in (digits | printed_digits).items()}}  # fmt: skip
        write_json(card_path, card)

    print(f"{'kind':50s} {'role':10s} {'images':>6s} {'reading':>8s} {'detector':>9s} {'refused':>8s} {'confident before/after':>23s}")
    for name, row in kinds.items():
        print(f"{name:50s} {'seen' if row['role'].startswith('seen') else 'never':10s} {row['images']:6d} {row['refused_by_reading']:8d} "
              f"{row['refused_by_detector']:9d} {row['refused_percent']:7.1f}% {row['confident_answers_before']:11d} / {row['confident_answers_after']:d}")  # fmt: skip
    for name, row in summary.items():
        if name != "targets":
            print(f"  {name}: {row}")
    print(f"{'digits':30s} {'samples':>7s} {'before':>7s} {'after':>7s} {'lost':>6s} {'refused':>8s}")
    for name, row in (digits | printed_digits).items():
        low, high = row["digits_refused_ci95"]
        print(f"{name:30s} {row['samples']:7d} {row['accuracy_before']:6.2f}% {row['accuracy_after']:6.2f}% {row['points_lost']:6.2f} {row['digits_refused_percent']:7.2f}% ({low:.2f}-{high:.2f})"
              + (f"  by digit {row['digits_refused_percent_per_digit']}" if name in printed_digits else ""))
    for name, row in summary["targets"].items():
        interval = f" [95 %: {row['ci95'][0]:.2f}-{row['ci95'][1]:.2f}]" if "ci95" in row else ""
        print(f"target {name:40s} {row['target']:>12s}  measured {row['measured']:6.2f}{interval}{'  (' + row['set'] + ')' if 'set' in row else ''}  {'met' if row['met'] else 'NOT MET'}")
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
