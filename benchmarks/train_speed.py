"""Side by side, in one process: one training epoch of `mnist train`'s engine, of a bare loop over the
same in-memory tensors, and of the torchvision `datasets.MNIST` + `DataLoader` pipeline that the
pytorch/examples script uses. Same model, same initial weights, same batch size. Prints the ratios.

Usage: poetry run python benchmarks/train_speed.py [--rounds 3] [--arch cnn] [--batch-size 64]
Rounds alternate the order of the three contenders; the median epoch time of each is reported, so
the first round's warm-up (oneDNN kernel creation) does not decide the result.
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

from mnist_toolkit.config import TrainConfig
from mnist_toolkit.data import resolve_source
from mnist_toolkit.engine import Trainer, prepare_data
from mnist_toolkit.models import create_model
from mnist_toolkit.resources import EMBEDDED_DIR, RESOURCES
from mnist_toolkit.transforms import normalise


def toolkit_epoch(trainer: Trainer, epoch: int) -> float:
    """The engine's own training loop, with the callbacks `mnist train` uses."""
    trainer.epoch, trainer.step_in_epoch = epoch, 0
    from mnist_toolkit.engine import epoch_permutation

    perm = epoch_permutation(len(trainer.data.train_y), trainer.config.seed, epoch)
    started = time.perf_counter()
    trainer._train_steps(perm)
    for callback in trainer.callbacks:  # what the epoch's end costs the loop: TensorBoard's buffered step losses
        if hasattr(callback, "flush_steps"):
            callback.flush_steps()
    return time.perf_counter() - started


def bare_epoch(model, optimizer, images, labels, batch_size: int, epoch: int) -> float:
    """The simplest correct loop over the same uint8 tensors."""
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(epoch))
    for start in range(0, len(labels), batch_size):
        index = perm[start : start + batch_size]
        x, y = normalise(images[index]), labels[index]
        optimizer.zero_grad(set_to_none=True)
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


def torchvision_epoch(model, optimizer, loader) -> float:
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())

    with tempfile.TemporaryDirectory() as scratch:
        config = replace(TrainConfig(), arch=args.arch, batch_size=args.batch_size, runs_dir=scratch)
        data = prepare_data(config, resolve_source(), torch.device("cpu"))
        from rich.console import Console

        from mnist_toolkit.reporting.tensorboard import TensorBoardCallback
        from mnist_toolkit.reporting.training import ConsoleCallback

        trainer = Trainer(config, data, torch.device("cpu"), Path(scratch) / "run")
        quiet = Console(file=open("/dev/null", "w"), force_terminal=True)
        trainer.callbacks = [ConsoleCallback(quiet), TensorBoardCallback(Path(scratch) / "run")]
        trainer.callbacks[0].on_start(trainer)
        trainer.callbacks[0].on_epoch_start(1, trainer.steps_per_epoch, 0)

        torch.manual_seed(0)
        bare_model = create_model(args.arch)
        bare_opt = torch.optim.Adam(bare_model.parameters(), lr=1e-3)
        torch.manual_seed(0)
        tv_model = create_model(args.arch)
        tv_opt = torch.optim.Adam(tv_model.parameters(), lr=1e-3)
        loader = torchvision_loader(args.batch_size, Path(scratch) / "tv")

        contenders = {
            "toolkit": lambda r: toolkit_epoch(trainer, r),
            "bare": lambda r: bare_epoch(bare_model, bare_opt, data.train_x, data.train_y, args.batch_size, r),
            "torchvision": lambda r: torchvision_epoch(tv_model, tv_opt, loader),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_index in range(args.rounds):
            order = names[round_index % 3 :] + names[: round_index % 3]
            for name in order:
                seconds = contenders[name](round_index)
                times[name].append(seconds)
                print(f"round {round_index + 1} {name:12s} {seconds:6.2f} s/epoch", flush=True)
        trainer.callbacks[0].live.stop()

    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "arch": args.arch,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "seconds_per_epoch": median,
        "toolkit_over_bare": median["toolkit"] / median["bare"],
        "torchvision_over_toolkit": median["torchvision"] / median["toolkit"],
        "all": times,
    }
    print(json.dumps(result, indent=2))
    print(f"toolkit/bare = {result['toolkit_over_bare']:.3f} (target <= 1.05); "
          f"torchvision/toolkit = {result['torchvision_over_toolkit']:.2f} (target >= 1.3)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
