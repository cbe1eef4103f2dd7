"""Wall-clock checks of whole commands, each a fresh process (as a user runs them):

- `mnist --help` cold start (target < 0.5 s);
- `mnist train --preset fast` from process start to exit, and its test accuracy (target >= 99.0 % within 20 s);
- optionally `mnist train --preset best` (target >= 99.6 %), with --best;
- peak memory (max RSS) of a default `mnist train` epoch, with --memory.

Usage: poetry run python benchmarks/startup_and_presets.py [--repeat 3] [--best] [--memory] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
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
    return time.perf_counter() - started, done


def children_max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--best", action="store_true", help="also run --preset best (long)")
    parser.add_argument("--memory", action="store_true", help="peak memory of a default training epoch")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results: dict = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}

    help_times = [timed([str(Path(sys.executable).parent / "mnist"), "--help"])[0] for _ in range(args.repeat)]
    results["help_seconds"] = {"median": statistics.median(help_times), "all": help_times}
    print(f"mnist --help: median {statistics.median(help_times):.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as runs:
        fast = []
        for _ in range(args.repeat):
            seconds, done = timed([*MNIST, "train", "--preset", "fast", "--runs-dir", runs, "--json"])
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            summary = json.loads(done.stdout)
            fast.append({"wall_seconds": seconds, "test_accuracy": summary["test_accuracy"],
                         "train_seconds": summary["train_seconds"]})  # fmt: skip
            print(f"--preset fast: {seconds:.1f} s wall, {summary['test_accuracy']:.2f} % test", flush=True)
        results["preset_fast"] = fast
        if args.best:
            seconds, done = timed([*MNIST, "train", "--preset", "best", "--runs-dir", runs, "--json"])
            summary = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-400:]}
            results["preset_best"] = {"wall_seconds": seconds, "test_accuracy": summary.get("test_accuracy")}
            print(f"--preset best: {seconds:.0f} s wall, {summary.get('test_accuracy')} % test", flush=True)
        predict_times = []
        digit = Path(runs) / "digit.png"
        from PIL import Image

        from mnist_toolkit.data.source import load_split, resolve_source

        Image.fromarray(load_split(resolve_source(), "test").images[0]).save(digit)
        for _ in range(args.repeat):
            seconds, done = timed([*MNIST, "predict", str(digit), "--runs-dir", runs])
            predict_times.append(seconds)
        results["predict_one_seconds"] = {"median": statistics.median(predict_times), "all": predict_times}
        print(f"mnist predict one.png: median {statistics.median(predict_times):.2f} s", flush=True)
        seconds, done = timed([*MNIST, "evaluate", "--runs-dir", runs, "--json"])
        if done.returncode == 0:
            results["evaluate_images_per_second"] = json.loads(done.stdout)["images_per_second"]
            print(f"mnist evaluate: {results['evaluate_images_per_second']:,.0f} images/s", flush=True)
        if args.memory:
            before = children_max_rss_mb()
            seconds, done = timed([*MNIST, "train", "--epochs", "1", "--runs-dir", runs, "--json"])
            results["default_epoch"] = {"wall_seconds": seconds, "max_rss_mb": children_max_rss_mb(), "max_rss_before_mb": before}
            print(f"default 1-epoch run: {seconds:.1f} s wall, peak RSS of any child so far {children_max_rss_mb():.0f} MB")
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
