"""The data a run trains on: the train/validation/test split as tensors on the device, and each epoch's batch order.

The whole data set sits in uint8 tensors on the training device; each epoch's batches are cut by
index from a permutation seeded by (seed, epoch), so a resumed run cuts the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data.source import DataSource, load_split
from .config import TrainConfig

__all__ = ["TrainData", "epoch_permutation", "prepare_data"]

_EPOCH_SEED_STRIDE = 1_000_003


@dataclass
class TrainData:
    """Train/validation/test splits as tensors on the device: images (N, 28, 28) uint8, labels (N,) int64."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: dict = field(default_factory=dict)


def prepare_data(config: TrainConfig, source: DataSource, device: torch.device) -> TrainData:
    """Load the splits once, take `train_limit` first images, hold `val_size` out (seeded), move to device.

    `config` is a validated one: `config.validate` checks that the validation set leaves training images.
    """
    train, test = load_split(source, "train"), load_split(source, "test")
    images = torch.from_numpy(train.images)
    labels = torch.from_numpy(train.labels).long()
    if config.train_limit is not None:
        images, labels = images[: config.train_limit], labels[: config.train_limit]
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(config.seed))
    val_idx, train_idx = order[: config.val_size], order[config.val_size :]
    if config.val_size:
        train_idx = train_idx.sort().values  # keep the original order; epochs shuffle anyway
    else:
        train_idx = torch.arange(len(labels))
    return TrainData(
        images[train_idx].to(device), labels[train_idx].to(device),
        images[val_idx].to(device), labels[val_idx].to(device),
        torch.from_numpy(test.images).to(device), torch.from_numpy(test.labels).long().to(device),
        source.describe(),
    )  # fmt: skip


def epoch_permutation(count: int, seed: int, epoch: int) -> torch.Tensor:
    """The batch order of one epoch: depends only on (seed, epoch), so a resumed run cuts the same batches."""
    generator = torch.Generator().manual_seed(seed * _EPOCH_SEED_STRIDE + epoch)
    return torch.randperm(count, generator=generator)
