"""The ONNX Runtime engine against the torch engine, side by side in one run (rounds interleaved):

- cold `mnist predict one.png` (a fresh process each time, printing its table) on each engine: median
  seconds (target: ONNX at most 0.25x torch);
- `mnist evaluate` on the 10,000 test images on each engine: accuracy (target: equal within 0.01
  points) and images/s (target: ONNX at least torch), from whole commands and from the scoring call;
- that the ONNX path never imports torch (`python -X importtime`), nor scipy or pydantic (0.2 s and
  0.1 s of a cold start).

The model is the pretrained one in the package unless --run is given (its checkpoint and the ONNX
model beside it).

Usage: poetry run python benchmarks/engines.py [--run RUN] [--rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MNIST = [sys.executable, "-m", "mnist_toolkit"]


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-400:]}")
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: the pretrained model)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    from mnist_toolkit.data.source import load_split, resolve_source

    test = load_split(resolve_source(None), "test")
    where = ["--run", str(args.run)] if args.run else ["--runs-dir", tempfile.mkdtemp()]  # an empty runs folder: the pretrained model
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "one.png"
        page = np.full((480, 640), 230, np.uint8)
        page[140:340, 220:420] = np.minimum(page[140:340, 220:420], np.array(Image.fromarray(255 - test.images[0]).resize((200, 200))))
        Image.fromarray(page).save(image)
        predict = {"onnx": [], "torch": []}
        evaluate = {"onnx": [], "torch": []}
        accuracy, answers = {}, {}
        for round_ in range(args.rounds):
            order = ("onnx", "torch") if round_ % 2 == 0 else ("torch", "onnx")
            for engine in order:
                seconds, _ = timed([*MNIST, "predict", str(image), *where, "--engine", engine])  # as typed: the table
                predict[engine].append(seconds)
            for engine in order:
                seconds, done = timed([*MNIST, "evaluate", *where, "--engine", engine, "--json", "--show", "0"])
                report = json.loads(done.stdout)
                evaluate[engine].append(report["images_per_second"])
                accuracy[engine] = report["accuracy"]
            print(f"round {round_ + 1}: predict onnx {predict['onnx'][-1]:.2f} s, torch {predict['torch'][-1]:.2f} s; "
                  f"evaluate onnx {evaluate['onnx'][-1]:,.0f} img/s, torch {evaluate['torch'][-1]:,.0f} img/s", flush=True)  # fmt: skip
        for engine in predict:
            answers[engine] = json.loads(timed([*MNIST, "predict", str(image), *where, "--engine", engine, "--json"])[1].stdout)[0]["digit"]
        imports = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnist_toolkit", "predict", str(image), *where, "--engine", "onnx"],
                                 capture_output=True, text=True)  # fmt: skip
        imported = [line.split("|")[-1].strip() for line in imports.stderr.splitlines() if line.startswith("import time:")]
    median = {e: statistics.median(v) for e, v in predict.items()}
    speed = {e: statistics.median(v) for e, v in evaluate.items()}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"), "model": str(args.run or "pretrained"),
        "predict_seconds": {"median": median, "all": predict, "ratio_onnx_to_torch": median["onnx"] / median["torch"]},
        "predict_answers": answers,
        "evaluate_images_per_second": {"median": speed, "all": evaluate, "ratio_onnx_to_torch": speed["onnx"] / speed["torch"]},
        "evaluate_accuracy": accuracy, "accuracy_difference": abs(accuracy["onnx"] - accuracy["torch"]),
        "onnx_path_imports_torch": "torch" in imported,
        "onnx_path_heavy_imports": sorted({"torch", "scipy", "pydantic"} & set(imported)),
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
