"""The reference for the fast preset's speed: a plain in-memory PyTorch loop, written without the toolkit.

Three 3x3 conv blocks (16, 32, 64 channels; conv, batch norm, ReLU, 2x2 max pool) and a linear layer,
AdamW 1e-2 with a one-cycle schedule, batch 128, one epoch, label smoothing 0.1, the MNIST files read
straight into tensors, then the test set's accuracy. With --bf16: the same under bfloat16 autocast on
channels-last tensors. It imports nothing from mnist_toolkit, so its time from process start to exit is
what a person's own short script costs on this machine (benchmarks/fast_preset_speed.py runs it
beside `mnist train --preset fast`).

Usage: poetry run python benchmarks/plain_loop.py [--bf16] [--data DIR]
"""

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DATA = Path(__file__).resolve().parents[1] / "src" / "mnist_toolkit" / "data" / "mnist"


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    torch.manual_seed(0)
    load = lambda name: torch.from_numpy(read_idx(args.data / name).copy())  # noqa: E731
    x_train, y_train = load("train-images-idx3-ubyte.gz"), load("train-labels-idx1-ubyte.gz").long()
    x_test, y_test = load("t10k-images-idx3-ubyte.gz"), load("t10k-labels-idx1-ubyte.gz").long()
    memory = torch.channels_last if args.bf16 else torch.contiguous_format
    prepare = lambda x: ((x.float().unsqueeze(1) / 255 - 0.1307) / 0.3081).contiguous(memory_format=memory)  # noqa: E731
    model = nn.Sequential(block(1, 16), block(16, 32), block(32, 64), nn.Flatten(), nn.Linear(64 * 3 * 3, 10))
    model = model.to(memory_format=memory)
    batch, epochs = 128, 1
    steps = (len(x_train) + batch - 1) // batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=steps * epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss = loss_fn(model(prepare(x_train[index])), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    trained = time.perf_counter() - started
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        for start in range(0, len(x_test), 1000):
            correct += (model(prepare(x_test[start : start + 1000])).argmax(1) == y_test[start : start + 1000]).sum().item()
    print(f"plain loop: test accuracy {100 * correct / len(x_test):.2f}% ({trained:.1f} s training)")


if __name__ == "__main__":
    main()
