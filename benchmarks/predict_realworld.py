"""How well `mnist predict` reads real-world images: naive resize, the previous preprocessing, the current one.

The sets come from `realworld_sets.py` (generated in memory, never stored): phone photos, tight crops
with thick strokes, other writers' digits, rows of digits, and the two sets that already read well
(MNIST digits photographed on paper, drawings on a transparent canvas). Each is read three ways by the
same model:
- naive: grayscale and resize to 28x28, nothing else;
- previous: the preprocessing as it was at commit PREVIOUS (border-based polarity and background),
  loaded from git so the comparison needs no copy of old code;
- current: `mnist_toolkit.reading.prepare` (`prepare`, and `prepare_number` for rows of digits).
A single-digit sample counts as right when the answer is its digit; a row when every digit of the
number is right and no digit is missing or extra. An image the path refuses ("no digit found") is wrong.
For the sets made from MNIST digits, the same model also reads those 28x28 digits themselves: the
ceiling no preprocessing can pass (what is left below it is the model's, not the reading's).

Reported numbers use digits of the MNIST *test* split (seed 0); the preprocessing was developed on
sets built from the *training* split with another seed (`--split train --seed 1`).

Usage: poetry run python benchmarks/predict_realworld.py --checkpoint RUN/checkpoints/last.pt [--checkpoint OTHER.pt ...] [--count 300]
       [--split train|test] [--seed S] [--set NAME ...] [--path naive|previous|current ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realworld_sets import SETS, build_set  # noqa: E402

from mnist_toolkit.inference.checkpoint import load_checkpoint, rebuild_model  # noqa: E402
from mnist_toolkit.inference.torch_model import TorchModel  # noqa: E402
from mnist_toolkit.inference.predict import PredictionRow, predict_rows  # noqa: E402
from mnist_toolkit.reading.prepare import Prepared, decode, naive, prepare_bytes, prepare_number_bytes  # noqa: E402

PREVIOUS = "0deb01e"  # the last commit before robust reading (issue 10)
NUMBER_SETS = {"numbers"}


def previous_preprocessing():
    """`prepare_bytes` of the preprocessing module as it was at commit PREVIOUS."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{PREVIOUS}:src/mnist_toolkit/preprocess.py"], cwd=root, capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("mnist_toolkit.previous_preprocess")
    module.__package__ = "mnist_toolkit"
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"preprocess.py@{PREVIOUS}", "exec"), module.__dict__)
    return module.prepare_bytes


def read_digits(model, images: list[np.ndarray | None], norm: dict) -> list[int | None]:
    rows = [PredictionRow("x", prepared=None if image is None else Prepared(image, False, False, (28, 28))) for image in images]
    predict_rows(TorchModel(model, norm["mean"], norm["std"]), rows, 1)
    return [row.digit for row in rows]


def _attempt(read, data: bytes):
    try:
        return read(data)
    except Exception:  # noqa: BLE001 - a refusal or a crash both count as not read
        return None


def score_sources(models, samples) -> dict | None:
    """Each model on the MNIST 28x28 digits the samples were made from: the ceiling any preprocessing can reach."""
    if not all(sample.sources for sample in samples):
        return None
    result = {}
    for name, (model, norm) in models.items():
        digits = iter(read_digits(model, [digit for sample in samples for digit in sample.sources], norm))
        read = ["".join(str(next(digits)) for _ in sample.sources) for sample in samples]
        result[name] = {"accuracy": 100.0 * sum(r == s.label for r, s in zip(read, samples)) / len(samples)}
    return result


def score_single(models, samples, read) -> dict:
    """One preprocessing path over the samples (timed once), read by every model."""
    started = time.perf_counter()
    images = [_attempt(read, sample.data) for sample in samples]
    seconds = time.perf_counter() - started
    scores = {}
    for name, (model, norm) in models.items():
        digits = read_digits(model, images, norm)
        right = sum(str(d) == s.label for d, s in zip(digits, samples))
        scores[name] = {"accuracy": 100.0 * right / len(samples), "refused": sum(i is None for i in images), "ms_per_image": 1000 * seconds / len(samples),
                        **calibration_of(model, norm, images, samples)}  # fmt: skip
    return scores


def calibration_of(model, norm: dict, images: list, samples) -> dict:
    """ECE (in %) of the digits read, with softmax alone and with the checkpoint's temperature."""
    from mnist_toolkit.inference.calibration import expected_calibration_error
    from mnist_toolkit.inference.scores import softmax

    read = [(image, int(sample.label)) for image, sample in zip(images, samples) if image is not None]
    if not read:
        return {}
    logits = TorchModel(model, norm["mean"], norm["std"]).logits(np.stack([image for image, _ in read]))
    labels = np.array([label for _, label in read])
    temperature = norm.get("temperature") or 1.0
    return {"ece_softmax": 100 * expected_calibration_error(softmax(logits), labels),
            "ece_calibrated": 100 * expected_calibration_error(softmax(logits / temperature), labels)}


def score_numbers(models, samples) -> dict:
    started = time.perf_counter()
    per_image = [_attempt(lambda data: [p.image for p in prepare_number_bytes(data)], sample.data) for sample in samples]
    seconds = time.perf_counter() - started
    flat = [image for images in per_image if images for image in images]
    scores = {}
    for name, (model, norm) in models.items():
        digits = iter(read_digits(model, flat, norm))
        exact = digits_right = digits_total = 0
        for images, sample in zip(per_image, samples):
            read = "".join(str(next(digits)) for _ in images) if images else ""
            exact += read == sample.label
            digits_total += len(sample.label)
            if len(read) == len(sample.label):
                digits_right += sum(a == b for a, b in zip(read, sample.label))
        scores[name] = {
            "exact": 100.0 * exact / len(samples),
            "digit_count_right": 100.0 * sum(images is not None and len(images) == len(s.label) for images, s in zip(per_image, samples)) / len(samples),
            "digits_right": 100.0 * digits_right / digits_total,
            "refused": sum(images is None for images in per_image),
            "ms_per_image": 1000 * seconds / len(samples),
        }
    return scores


def twelve_megapixel_speed(seed: int, split: str, photos: int = 8, repeats: int = 3) -> dict:
    """Median ms to decode a 4000x3000 phone photo, and to prepare it once decoded (locate + cut + fit)."""
    from mnist_toolkit.reading.prepare import prepare

    samples = [s for s in build_set("phone photos", 80, seed, split) if s.kind.startswith("4000x3000")][:photos]
    decode_ms, prepare_ms = [], []
    for sample in samples:
        for _ in range(repeats):
            started = time.perf_counter()
            image = decode(sample.data)
            image.load()
            decoded = time.perf_counter()
            _attempt(lambda _: prepare(image), b"")
            decode_ms.append(1000 * (decoded - started))
            prepare_ms.append(1000 * (time.perf_counter() - decoded))
    return {"photos": len(samples), "repeats": repeats, "decode_ms_median": float(np.median(decode_ms)), "prepare_ms_median": float(np.median(prepare_ms)), "prepare_ms_max": float(np.max(prepare_ms))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, action="append",
                        help="a checkpoint; repeat to read the same prepared images with several models")  # fmt: skip
    parser.add_argument("--count", type=int, default=300, help="samples per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--set", action="append", dest="sets", help="only these sets (repeatable)")
    parser.add_argument("--path", action="append", dest="paths", choices=["naive", "previous", "current"],
                        help="only these ways of reading (repeatable; default all three)")  # fmt: skip
    parser.add_argument("--out", type=Path)
    parser.add_argument("--speed", action="store_true", help="also time decoding and preparing 12-megapixel photos")
    args = parser.parse_args()
    models = {}
    for path in args.checkpoint:
        payload = load_checkpoint(path)
        calibration = payload.get("calibration") or {}
        models[str(path)] = (rebuild_model(payload), {**payload["normalization"], "temperature": calibration.get("temperature")})
    previous = previous_preprocessing() if not args.paths or "previous" in args.paths else None
    paths = {
        "naive": lambda data: naive(decode(data)),
        "previous": lambda data: previous(data).image,
        "current": lambda data: prepare_bytes(data).image,
    }
    paths = {name: read for name, read in paths.items() if not args.paths or name in args.paths}
    result = {"checkpoints": list(models), "count": args.count, "seed": args.seed, "split": args.split, "previous_commit": PREVIOUS, "sets": {}}
    for name in args.sets or list(SETS):
        samples = build_set(name, args.count, args.seed, args.split)
        if name in NUMBER_SETS:
            if "current" not in paths:  # rows of digits are read by the current path only
                continue
            by_path = {"current": score_numbers(models, samples)}
        else:
            by_path = {path: score_single(models, samples, read) for path, read in paths.items()}
        ceiling = score_sources(models, samples)
        scores = {model: {path: by_path[path][model] for path in by_path} for model in models}
        for model in models:
            if ceiling is not None:
                scores[model]["mnist_itself"] = ceiling[model]
            s = scores[model]
            if name in NUMBER_SETS:
                line = f"exact {s['current']['exact']:6.2f}%  digits {s['current']['digits_right']:6.2f}%  count right {s['current']['digit_count_right']:6.2f}%"
            else:
                line = "  ".join(f"{path} {s[path]['accuracy']:6.2f}% ({s[path]['refused']} refused)" for path in paths)
                if "ece_softmax" in s.get("current", {}):
                    line += f"  ECE {s['current']['ece_softmax']:.2f}% -> {s['current']['ece_calibrated']:.2f}%"
            if ceiling is not None:
                line += f"  | its MNIST digits {s['mnist_itself']['accuracy']:6.2f}%"
            print(f"{name:20s} {Path(model).parent.parent.name or model:28.28s} {line}   {s[next(iter(by_path))]['ms_per_image']:.0f} ms/image", flush=True)
        result["sets"][name] = scores
    if args.speed:
        result["twelve_megapixel"] = speed = twelve_megapixel_speed(args.seed, args.split)
        print(f"12 MP phone photos ({speed['photos']} x {speed['repeats']}): decode {speed['decode_ms_median']:.0f} ms, prepare {speed['prepare_ms_median']:.0f} ms (median; max {speed['prepare_ms_max']:.0f} ms)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
