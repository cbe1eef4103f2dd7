"""Train every architecture with its documented settings on the full data and record what it reaches.

Each run is a real `mnist train` (a subprocess, its own run folder under --runs-dir), so the numbers are
what a user gets. Results (parameters, seconds per epoch, test accuracy per epoch) are written as JSON
and printed as the Markdown table the README carries.

Usage: poetry run python benchmarks/zoo.py [--only lenet5,resnet] [--runs-dir runs/zoo] [--out benchmarks/results/zoo.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

#: The documented settings of each architecture (README table). No test-set peeking: fixed schedules.
SETTINGS: dict[str, list[str]] = {
    "cnn (baseline)": ["--arch", "cnn", "--epochs", "10"],
    "cnn (--preset fast)": ["--preset", "fast"],
    "lenet5": ["--arch", "lenet5", "--epochs", "10"],
    "alexnet": ["--arch", "alexnet", "--epochs", "3", "--scheduler", "onecycle", "--lr", "2e-3"],
    "vgg16": ["--arch", "vgg16", "--epochs", "3", "--scheduler", "onecycle", "--lr", "3e-3"],
    "googlenet": ["--arch", "googlenet", "--epochs", "3", "--scheduler", "onecycle", "--lr", "3e-3"],
    "resnet": ["--arch", "resnet", "--epochs", "3", "--scheduler", "onecycle", "--lr", "3e-3"],
}


def run(label: str, args: list[str], runs_dir: Path) -> dict:
    command = [sys.executable, "-m", "mnist_toolkit", "train", *args, "--runs-dir", str(runs_dir), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"label": label, "args": args, "error": done.stderr.strip()[-500:]}
    summary = json.loads(done.stdout)
    history = summary["history"]
    return {
        "label": label,
        "args": args,
        "params": summary["params"],
        "epochs": len(history),
        "seconds_per_epoch": sum(h["seconds"] for h in history) / len(history),
        "test_accuracy_per_epoch": [h["test_acc"] for h in history],
        "test_accuracy": summary["test_accuracy"],
        "wall_seconds": wall,
        "run_dir": summary["run_dir"],
    }


def markdown(results: list[dict]) -> str:
    lines = ["| architecture | settings | parameters | s/epoch (CPU) | epochs | test accuracy |", "|---|---|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['label']} | `{' '.join(r['args'])}` | | | | failed: {r['error'][:80]} |")
            continue
        lines.append(f"| {r['label']} | `{' '.join(r['args'])}` | {r['params']:,} | {r['seconds_per_epoch']:.1f} | "
                     f"{r['epochs']} | {r['test_accuracy']:.2f}% |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated labels (prefix match)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/zoo"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/zoo.json"))
    args = parser.parse_args()
    wanted = [w.strip() for w in args.only.split(",")] if args.only else None
    results = []
    for label, settings in SETTINGS.items():
        if wanted and not any(label.startswith(w) for w in wanted):
            continue
        result = run(label, settings, args.runs_dir)
        print(json.dumps(result), flush=True)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {"results": []}
    merged = {r["label"]: r for r in previous.get("results", [])}
    merged.update({r["label"]: r for r in results})
    document = {"machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
                "date": time.strftime("%Y-%m-%d"), "results": list(merged.values())}  # fmt: skip
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(markdown(list(merged.values())))


if __name__ == "__main__":
    main()
