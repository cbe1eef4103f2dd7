"""How well `mnist predict` reads real-world-style images, against the model's accuracy on MNIST itself.

MNIST test digits are rendered in each style of `mnist_toolkit.synthetic` (photos of dark pen on light
paper, off-centre in a 320x240 frame with lighting gradient and noise, RGB JPEG or gray PNG; drawings
on a transparent canvas with the ink only in alpha). The same model then reads: the original 28x28
digits; the renderings through the toolkit's preprocessing; and the renderings resized naively to 28x28.

Usage: poetry run python benchmarks/predict_realworld.py --checkpoint RUN/checkpoints/last.pt [--count 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mnist_toolkit.checkpoint import load_checkpoint, rebuild_model
from mnist_toolkit.data import load_split, resolve_source
from mnist_toolkit.predict import PredictionRow, predict_rows
from mnist_toolkit.preprocess import Prepared, decode, naive, prepare_bytes
from mnist_toolkit.synthetic import STYLES


def accuracy(model, images, labels) -> float:
    rows = [PredictionRow("x", prepared=Prepared(image, False, False, (28, 28))) for image in images]
    predict_rows(model, rows)
    return 100.0 * float(np.mean([row.digit == int(label) for row, label in zip(rows, labels)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--count", type=int, default=2000, help="test digits per style (from the end of the test set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model = rebuild_model(load_checkpoint(args.checkpoint))
    test = load_split(resolve_source(), "test")
    images, labels = test.images[-args.count :], test.labels[-args.count :]
    rng = np.random.default_rng(args.seed)
    result = {"checkpoint": str(args.checkpoint), "count": args.count, "mnist_itself": accuracy(model, images, labels), "styles": {}}
    print(f"MNIST test digits themselves: {result['mnist_itself']:.2f}%")
    for style, render in STYLES.items():
        started = time.perf_counter()
        files = [render(digit, rng) for digit in images]
        ours = accuracy(model, [prepare_bytes(data, style).image for data in files], labels)
        plain = accuracy(model, [naive(decode(data, style)) for data in files], labels)
        result["styles"][style] = {"toolkit": ours, "naive_resize": plain, "seconds": time.perf_counter() - started}
        print(f"{style:24s} toolkit {ours:6.2f}%   naive resize {plain:6.2f}%", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
