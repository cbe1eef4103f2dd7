"""`mnist train --preset fast` against a plain PyTorch loop, from process start to exit, side by side:
the fast preset's speed goal (at most 0.6x the plain float32 loop's time, at least 99.0 % test accuracy).

Each round runs every contender once, in a rotating order, each a fresh process timed from start to
exit (as a user runs it):
- the plain loop (benchmarks/plain_loop.py, no toolkit code) in float32: the reference;
- the plain loop in bfloat16 (only where the CPU has it natively: AVX512-BF16 or AMX);
- the fast preset as shipped (bfloat16 where native, its ONNX model written by a background process);
- the fast preset in float32 (`--no-amp`), what a CPU without bfloat16 runs (where the CPU has none,
  that is the preset as shipped, and this contender is left out);
- the fast preset writing its ONNX model before it exits (`--wait-for-onnx`), the old path;
- a bare interpreter importing torch and the toolkit's training modules: the floor of every run.
After a preset run the next contender starts only once its background export is done (that time is
reported as `export_after_exit_s`, and not counted) and its process has ended, so no contender shares
the CPU with another.
Only ratios within a round are comparable: this kind of machine's speed moves 2-3x from hour to hour.

Usage: poetry run python benchmarks/fast_preset_speed.py [--rounds 3] [--only reference,shipped] [--out FILE]
(--only: the contenders whose names hold these words; the reference always runs.)
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

HERE = Path(__file__).resolve().parent
PRESET = [sys.executable, "-m", "mnist_toolkit", "train", "--preset", "fast", "--json"]
PLAIN = [sys.executable, str(HERE / "plain_loop.py")]
REFERENCE, SHIPPED = "plain loop, float32 (the reference)", "fast preset as shipped"
CONTENDERS = {REFERENCE: [*PLAIN], "plain loop, bfloat16": [*PLAIN, "--bf16"], SHIPPED: [*PRESET],
              "fast preset, float32 (--no-amp)": [*PRESET, "--no-amp"],
              "fast preset, ONNX before exit (--wait-for-onnx)": [*PRESET, "--wait-for-onnx"],
              "imports only": [sys.executable, "-c", "import torch, mnist_toolkit.training.trainer, mnist_toolkit.cli.train"]}  # fmt: skip


def _exporters() -> list[int]:
    """The pids of background export processes still alive (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"mnist_toolkit.inference.background_export" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def run(command: list[str], runs_dir: str) -> dict:
    from mnist_toolkit.inference import background_export

    is_preset = command[: len(PRESET)] == PRESET
    started = time.perf_counter()
    done = subprocess.run([*command, *(["--runs-dir", runs_dir] if is_preset else [])], capture_output=True, text=True, check=True)
    measured = {"wall_s": round(time.perf_counter() - started, 2)}
    if is_preset:
        summary = json.loads(done.stdout)
        measured |= {"training_s": round(summary["train_seconds"], 2), "test_accuracy": summary["test_accuracy"]}
        exited = time.perf_counter()
        if summary.get("onnx"):
            background_export.wait(Path(summary["onnx"]))
            measured["export_after_exit_s"] = round(time.perf_counter() - exited, 2)
            measured["onnx_written"] = Path(summary["onnx"]).is_file()
        while _exporters():  # its process too, to its last byte of exit: the next contender must not share the CPU
            time.sleep(0.05)
    elif found := re.search(r"test accuracy ([\d.]+)% \(([\d.]+) s training\)", done.stdout):
        measured |= {"training_s": float(found.group(2)), "test_accuracy": float(found.group(1))}
    return measured


def _median_range(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="comma-separated words: run only the contenders whose names hold one (and the reference)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from mnist_toolkit.training.devices import cpu_has_bf16

    # Without native bfloat16 the preset as shipped trains in float32: --no-amp would run it twice.
    names = [name for name in CONTENDERS if cpu_has_bf16() or name not in ("plain loop, bfloat16", "fast preset, float32 (--no-amp)")]
    if args.only:
        words = [word.strip() for word in args.only.split(",") if word.strip()]
        names = [name for name in names if name == REFERENCE or any(word in name for word in words)]
    rounds = []
    with tempfile.TemporaryDirectory() as runs_dir:
        for number in range(args.rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            measured = {name: run(CONTENDERS[name], runs_dir) for name in order}
            rounds.append({name: measured[name] for name in names})
            print(f"round {number + 1}: " + "; ".join(f"{n}: {m}" for n, m in rounds[-1].items()), flush=True)
    timed = [name for name in names if name != "imports only"]
    summary = {
        "ratio_to_reference": {n: _median_range([r[n]["wall_s"] / r[REFERENCE]["wall_s"] for r in rounds]) for n in timed if n != REFERENCE},
        "wall_s": {n: _median_range([r[n]["wall_s"] for r in rounds]) for n in names},
        "training_s": {n: _median_range([r[n]["training_s"] for r in rounds]) for n in timed},
        "test_accuracy": {n: sorted({r[n]["test_accuracy"] for r in rounds}) for n in timed},
    }
    if SHIPPED in names:
        summary["export_after_exit_s"] = _median_range([r[SHIPPED]["export_after_exit_s"] for r in rounds])
    print(json.dumps(summary, indent=2))
    if args.out:
        result = {"rounds": rounds, "summary": summary, "cpu_has_native_bf16": cpu_has_bf16(), "machine": platform.machine(),
                  "processor": platform.processor(), "date": time.strftime("%Y-%m-%d")}  # fmt: skip
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
