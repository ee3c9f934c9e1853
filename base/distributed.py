"""Data-parallel training with torch.distributed, launched by torchrun (no home-made processes).

    torchrun --nproc_per_node=4 train.py --config configs/x.py

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; each process trains on its share of every epoch
(EpochSampler shards one draw), gradients are averaged by DistributedDataParallel, validation
predictions are gathered so every process scores the same full validation set, and only
rank 0 writes the run folder. nccl on CUDA, gloo on CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_from_env(device: torch.device) -> World:
    """Join the process group torchrun describes (once per process); World() when not launched so."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world


def broadcast(value, world: World):
    """Rank 0's value on every rank (e.g. the run folder it created)."""
    if not world.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value, world: World) -> list:
    """Every rank's value, in rank order, on every rank."""
    if not world.enabled:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def sync_buffers(model: torch.nn.Module, world: World) -> None:
    """Give every process rank 0's buffers (BatchNorm statistics): DDP broadcasts them before
    each training forward, so after the last one each process holds its own batch's update."""
    if world.enabled:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


class ShardSampler(Sampler):
    """Evaluation order split between ranks without padding: rank r takes r, r + size, ...;
    `gather_ordered` puts the pieces back in table order, so no sample is counted twice."""

    def __init__(self, length: int, world: World):
        self.indices = list(range(world.rank, length, world.size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def gather_ordered(rows: np.ndarray, length: int, world: World) -> np.ndarray:
    """The full (length, ...) array from each rank's ShardSampler rows."""
    if not world.enabled:
        return rows
    out = np.empty((length, *rows.shape[1:]), dtype=rows.dtype)
    for rank, part in enumerate(gather(rows, world)):
        out[rank::world.size] = part
    return out
