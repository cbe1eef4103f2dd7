"""Data-parallel training on torch.distributed: the process group from torchrun's environment, and launching.

`torchrun --nproc-per-node N -m mnist_toolkit train ...` (or `mnist train --nproc N`) starts N processes;
each reads RANK / WORLD_SIZE / LOCAL_RANK from its environment, joins the group (gloo on CPU, nccl on
CUDA), trains a DistributedDataParallel model on its share of every batch, and only rank 0 reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the group; the default is a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> DistContext:
    """Read torchrun's variables; a single process when they are absent."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    return DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")),
                       int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))  # fmt: skip


def init_group(context: DistContext, device_type: str) -> None:
    """Join the process group: nccl on CUDA, gloo otherwise."""
    import torch.distributed as dist

    if context.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")


#: How long a rank that finished waits at the final barrier for the others (they may still be writing).
EXIT_BARRIER_SECONDS = 300


def shutdown(wait_for_peers: bool = False) -> None:
    """Leave the process group. With `wait_for_peers` (a rank that finished normally), first wait until
    every rank is here: a gloo rank that tore its connections down while rank 0 was still writing its
    summary was seen to abort at exit (SIGABRT), failing the whole run."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        try:
            if wait_for_peers:
                from datetime import timedelta

                try:
                    if dist.get_backend() == "gloo":
                        dist.monitored_barrier(timeout=timedelta(seconds=EXIT_BARRIER_SECONDS))
                    else:
                        dist.barrier()
                except RuntimeError:  # a peer is gone or stuck: leave anyway, its failure is reported by torchrun
                    pass
        finally:
            dist.destroy_process_group()


def all_reduce_sum(context: DistContext, values: list[float]) -> list[float]:
    """Sum numbers over every rank (identity for one process)."""
    if not context.enabled:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def broadcast(context: DistContext, value):
    """Rank 0's value on every rank (identity for one process)."""
    if not context.enabled:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def launch(nproc: int, argv: list[str]) -> int:
    """Run `python -m torch.distributed.run --standalone --nproc-per-node N -m mnist_toolkit ARGV` and wait.

    Raises:
        ConfigError: fewer than 2 processes asked for.
    """
    if nproc < 2:
        raise ConfigError(f"--nproc must be at least 2, found {nproc}", hint="leave --nproc out to train in one process")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "mnist_toolkit", *argv]  # fmt: skip
    return subprocess.call(command)


def all_gather(context: DistContext, value) -> list:
    """Every rank's value, in rank order (a one-element list for one process)."""
    if not context.enabled:
        return [value]
    import torch.distributed as dist

    gathered = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered
