"""Seconds per training epoch of every architecture in the toolkit's engine, measured side by side in one
process: a warm-up, then `--steps` optimizer steps each (batch 64, the default data pipeline), scaled to
the 938 steps of a full 60,000-image epoch. Quicker and quieter than full runs; see zoo.py for accuracy.

Usage: poetry run python benchmarks/arch_speed.py [--steps 150] [--out FILE]
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
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
