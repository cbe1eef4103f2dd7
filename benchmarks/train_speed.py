"""What `mnist train`'s engine costs per step against a bare loop, measured fairly and side by side.

Four contenders, each with its own model (the same initial weights), its own optimizer and, for the
engine with callbacks, its own live display and TensorBoard writer:
- engine: `Trainer.train_one_epoch` with the callbacks `mnist train` uses in a terminal;
- engine, no callbacks: the same loop alone;
- bare: the simplest correct loop over the same in-memory uint8 tensors;
- torchvision: `datasets.MNIST` + `DataLoader` (the pytorch/examples input pipeline), for reference.
Every round gives each contender `--steps` steps, in a rotating order; the engine and the bare loop
cut the same batches from the same permutation. Reported: ms per step per contender (median and
range over rounds) and the per-round ratio engine / bare (median and range). Only the public engine
API is used. A ratio whose range straddles 1.0 means no difference this measurement can resolve.

With --amp, the engines train under --amp (bfloat16 autocast on channels-last tensors, on a CPU with
native bfloat16) and the bare loop does the same in its few lines; the torchvision contender is left
out. With --preset, the network and batch size are the preset's (e.g. the fast preset's).

Usage: poetry run python benchmarks/train_speed.py [--rounds 7] [--steps 150] [--preset NAME] [--amp] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from mnist_toolkit.training.config import TrainConfig
from mnist_toolkit.data.source import resolve_source
from mnist_toolkit.training.split import epoch_permutation, prepare_data
from mnist_toolkit.training.trainer import Trainer
from mnist_toolkit.models import create_model
from mnist_toolkit.data.resources import EMBEDDED_DIR, RESOURCES
from mnist_toolkit.training.state import TrainState
from mnist_toolkit.inference.torch_model import normalise


def engine_steps(trainer: Trainer, perm: torch.Tensor, steps: int, round_index: int) -> float:
    """`steps` steps of the engine from the start of the round's permutation; seconds."""
    trainer.state = TrainState(epoch=round_index)
    started = time.perf_counter()
    trainer.train_one_epoch(perm, limit=steps)
    for callback in trainer.callbacks:  # what an epoch's end costs: TensorBoard's buffered step losses
        if hasattr(callback, "flush_steps"):
            callback.flush_steps()
    return time.perf_counter() - started


def bare_steps(model, optimizer, images, labels, perm: torch.Tensor, batch_size: int, steps: int, bf16: bool = False) -> float:
    """The simplest correct loop over the same tensors and the same batches (in bfloat16 autocast on
    channels-last tensors with `bf16`); seconds."""
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    for step in range(steps):
        index = perm[step * batch_size : (step + 1) * batch_size]
        x, y = normalise(images[index]), labels[index]
        if bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def torchvision_loader(batch_size: int, root: Path):
    """The pytorch/examples input pipeline, reading the same files from a scratch folder."""
    from torchvision import datasets, transforms

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for resource in RESOURCES:
        (raw / resource.filename).write_bytes(gzip.decompress((EMBEDDED_DIR / resource.gz_name).read_bytes()))
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)


def torchvision_steps(model, optimizer, loader, steps: int) -> float:
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    for step, (x, y) in enumerate(loader):
        if step == steps:
            break
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    return time.perf_counter() - started


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=150, help="steps per contender per round")
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--preset", help="the network and batch size of this preset (overrides --arch and --batch-size)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast on channels-last tensors, engine and bare loop alike")
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args()

    from rich.console import Console

    from mnist_toolkit.training.callbacks import StartRecord
    from mnist_toolkit.training.tensorboard import TensorBoardCallback
    from mnist_toolkit.reporting.training import ConsoleCallback

    with tempfile.TemporaryDirectory() as scratch, open("/dev/null", "w") as sink:
        if args.preset:
            from mnist_toolkit.training.config import build_train_config

            config = replace(build_train_config({"preset": args.preset}), runs_dir=scratch, amp=args.amp)
            args.arch, args.batch_size = config.arch, config.batch_size
        else:
            config = replace(TrainConfig(), arch=args.arch, batch_size=args.batch_size, runs_dir=scratch, amp=args.amp)
        data = prepare_data(config, resolve_source(), torch.device("cpu"))
        live = ConsoleCallback(Console(file=sink, force_terminal=True))
        callbacks = [live, TensorBoardCallback(Path(scratch) / "engine", data, config.to_dict())]
        with_callbacks = Trainer(config, data, torch.device("cpu"), Path(scratch) / "engine", callbacks)
        for callback in with_callbacks.callbacks:
            callback.on_start(StartRecord(config.epochs, with_callbacks.steps_per_epoch, 0, []))
            callback.on_epoch_start(1, with_callbacks.steps_per_epoch, 0)
        alone = Trainer(config, data, torch.device("cpu"), Path(scratch) / "alone")
        torch.manual_seed(config.seed)
        bare_model = create_model(args.arch, **config.model_args)
        if args.amp:
            bare_model = bare_model.to(memory_format=torch.channels_last)
        bare_opt = torch.optim.Adam(bare_model.parameters(), lr=1e-3)
        torch.manual_seed(config.seed)
        tv_model = create_model(args.arch, **config.model_args)
        tv_opt = torch.optim.Adam(tv_model.parameters(), lr=1e-3)
        loader = None if args.amp else torchvision_loader(args.batch_size, Path(scratch) / "tv")

        def contenders(perm: torch.Tensor, round_index: int) -> dict:
            runs = {
                "engine": lambda: engine_steps(with_callbacks, perm, args.steps, round_index),
                "engine, no callbacks": lambda: engine_steps(alone, perm, args.steps, round_index),
                "bare": lambda: bare_steps(bare_model, bare_opt, data.train_x, data.train_y, perm, args.batch_size, args.steps, args.amp),
                "torchvision": lambda: torchvision_steps(tv_model, tv_opt, loader, args.steps),
            }
            if args.amp:
                del runs["torchvision"]
            return runs

        names = list(contenders(torch.arange(1), 0))
        for run in contenders(epoch_permutation(len(data.train_y), config.seed, 99), 99).values():
            run()  # warm-up: oneDNN kernels, allocator, loader workers
        ms: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            perm = epoch_permutation(len(data.train_y), config.seed, round_index)
            runs = contenders(perm, round_index)
            order = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order:
                ms[name].append(1000 * runs[name]() / args.steps)
            print(f"round {round_index + 1}: " + "  ".join(f"{n} {ms[n][-1]:.2f}" for n in names) + " ms/step", flush=True)
        live.on_interrupted(None)

    ratios = {
        "engine / bare": [a / b for a, b in zip(ms["engine"], ms["bare"])],
        "engine, no callbacks / bare": [a / b for a, b in zip(ms["engine, no callbacks"], ms["bare"])],
    }
    if "torchvision" in ms:
        ratios["torchvision / engine"] = [a / b for a, b in zip(ms["torchvision"], ms["engine"])]
    result = {
        "arch": args.arch, "preset": args.preset, "amp": args.amp, "batch_size": args.batch_size, "steps_per_round": args.steps, "rounds": args.rounds,
        "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
        "ms_per_step": {name: spread(values) for name, values in ms.items()},
        "ratios": {name: spread(values) for name, values in ratios.items()},
        "all_ms_per_step": ms,
    }  # fmt: skip
    for name, values in result["ms_per_step"].items():
        print(f"{name:22s} {values['median']:6.2f} ms/step  (range {values['min']:.2f}-{values['max']:.2f})")
    for name, values in result["ratios"].items():
        print(f"{name:28s} {values['median']:.3f}  (range {values['min']:.3f}-{values['max']:.3f})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
