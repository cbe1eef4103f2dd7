"""Seconds per training epoch of every architecture in the toolkit's engine, measured side by side in one
process: a warm-up, then `--steps` optimizer steps each (batch 64, the default data pipeline), scaled to
the 938 steps of a full 60,000-image epoch. Quicker and quieter than full runs; see zoo.py for accuracy.

With --precision, every architecture is measured in float32 and under --amp (bfloat16 autocast on
channels-last tensors, on a CPU with native bfloat16), the two alternating within the architecture.

Usage: poetry run python benchmarks/arch_speed.py [--steps 150] [--precision] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from mnist_toolkit.training.config import TrainConfig
from mnist_toolkit.data.source import resolve_source
from mnist_toolkit.training.split import epoch_permutation, prepare_data
from mnist_toolkit.training.trainer import Trainer
from mnist_toolkit.models import list_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--precision", action="store_true", help="float32 and --amp (bfloat16 on the CPU) side by side")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.precision:
        return compare_precision(args)
    data = prepare_data(TrainConfig(), resolve_source(), torch.device("cpu"))
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for info in list_models():
            config = replace(TrainConfig(), arch=info.name, max_steps=None)
            trainer = Trainer(config, data, torch.device("cpu"), Path(scratch) / info.name)
            perm = epoch_permutation(len(data.train_y), 0, 0)
            trainer.train_one_epoch(perm, limit=20)  # warm-up
            started = time.perf_counter()
            trainer.train_one_epoch(perm, limit=args.steps)
            per_step = (time.perf_counter() - started) / args.steps
            results[info.name] = {"params": trainer.params, "ms_per_step": 1000 * per_step, "seconds_per_epoch": per_step * 938}
            print(f"{info.name:10s} {trainer.params:>10,} params  {1000 * per_step:7.1f} ms/step  {per_step * 938:6.1f} s/epoch", flush=True)
    document = {"threads": torch.get_num_threads(), "steps": args.steps, "date": time.strftime("%Y-%m-%d"), "results": results}
    if args.out:
        args.out.write_text(json.dumps(document, indent=2) + "\n")


def _ms_per_step(config: TrainConfig, data, folder: Path, steps: int) -> tuple[float, int]:
    trainer = Trainer(config, data, torch.device("cpu"), folder)
    perm = epoch_permutation(len(data.train_y), 0, 0)
    trainer.train_one_epoch(perm, limit=10)  # warm-up
    started = time.perf_counter()
    trainer.train_one_epoch(perm, limit=steps)
    return 1000 * (time.perf_counter() - started) / steps, trainer.params


def compare_precision(args) -> None:
    """ms per step of every architecture in float32 and under --amp, in the order fp32, amp, amp, fp32."""
    data = prepare_data(TrainConfig(), resolve_source(), torch.device("cpu"))
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for info in list_models():
            times: dict[str, list[float]] = {"float32": [], "bfloat16": []}
            for index, amp in enumerate((False, True, True, False)):
                config = replace(TrainConfig(), arch=info.name, amp=amp)
                ms, params = _ms_per_step(config, data, Path(scratch) / f"{info.name}{index}", args.steps)
                times["bfloat16" if amp else "float32"].append(ms)
            fp32, bf16 = (min(times[k]) for k in ("float32", "bfloat16"))
            results[info.name] = {"params": params, "float32_ms_per_step": fp32, "bfloat16_ms_per_step": bf16, "ratio": bf16 / fp32, "all": times}
            print(f"{info.name:10s} float32 {fp32:7.1f} ms/step  bfloat16 {bf16:7.1f} ms/step  ratio {bf16 / fp32:.2f}", flush=True)
    document = {"threads": torch.get_num_threads(), "steps": args.steps, "batch_size": TrainConfig().batch_size,
                "date": time.strftime("%Y-%m-%d"), "results": results}  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
