"""`mnist train --preset fast` in float32 and in bfloat16 (the preset's automatic --amp), side by side,
and where the rest of its time goes.

Each round runs three contenders (float32, the preset as shipped, and the preset without its ONNX
export: the difference is the export's cost on the path the user waits for), in a rotating order, each a fresh process timed from start to exit (as a user
runs it), and reads the test accuracy and the training seconds from its output. The machine's CPU
flags say whether bfloat16 is native here (AVX512-BF16 or AMX); without it the preset trains in
float32 and both contenders are the same. Only ratios within a round are comparable: this kind of
machine's speed moves 2-3x from hour to hour.

Usage: poetry run python benchmarks/fast_preset_precision.py [--rounds 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MNIST = [sys.executable, "-m", "mnist_toolkit", "train", "--preset", "fast"]
CONTENDERS = {"float32 (--no-amp)": ["--no-amp"], "preset as shipped (bfloat16 where native)": [],
              "preset as shipped, --no-onnx": ["--no-onnx"]}  # fmt: skip
#: A bare interpreter importing torch and the toolkit's training modules: the floor of every run.
IMPORTS = [sys.executable, "-c", "import torch, mnist_toolkit.training.trainer, mnist_toolkit.cli.train"]


def run(extra: list[str], runs_dir: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([*MNIST, *extra, "--runs-dir", runs_dir], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    text = " ".join(done.stdout.split())
    accuracy = float(re.search(r"Test accuracy ([\d.]+)%", text).group(1))
    training = float(re.search(r"\(([\d.]+) s training", text).group(1))
    return {"wall_s": round(wall, 2), "training_s": training, "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from mnist_toolkit.training.devices import cpu_has_bf16

    names = list(CONTENDERS)
    rounds = []
    with tempfile.TemporaryDirectory() as runs_dir:
        for number in range(args.rounds):
            order = names[number % len(names):] + names[: number % len(names)]
            measured = {name: run(CONTENDERS[name], runs_dir) for name in order}
            started = time.perf_counter()
            subprocess.run(IMPORTS, check=True, capture_output=True)
            measured["imports only"] = {"wall_s": round(time.perf_counter() - started, 2)}
            rounds.append(measured)
            print(f"round {number + 1}: " + "; ".join(f"{n}: {m['wall_s']} s wall, {m.get('training_s')} s training, {m.get('test_accuracy')} %" for n, m in measured.items()))
    fp32, shipped, no_onnx = names
    summary = {
        "onnx_export_s_median": statistics.median(r[shipped]["wall_s"] - r[no_onnx]["wall_s"] for r in rounds),
        "imports_s_median": statistics.median(r["imports only"]["wall_s"] for r in rounds),
        "wall_ratio_median": statistics.median(r[shipped]["wall_s"] / r[fp32]["wall_s"] for r in rounds),
        "training_ratio_median": statistics.median(r[shipped]["training_s"] / r[fp32]["training_s"] for r in rounds),
        "wall_s_median": {n: statistics.median(r[n]["wall_s"] for r in rounds) for n in names},
        "training_s_median": {n: statistics.median(r[n]["training_s"] for r in rounds) for n in names},
        "test_accuracy": {n: sorted({r[n]["test_accuracy"] for r in rounds}) for n in names},
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        result = {"rounds": rounds, "summary": summary, "cpu_has_native_bf16": cpu_has_bf16(), "machine": platform.machine(),
                  "processor": platform.processor(), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
