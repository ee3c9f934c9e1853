"""Data-parallel training with torch.distributed, launched by torchrun (no home-made processes).

    torchrun --nproc_per_node=4 train.py --config configs/x.py

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; each process trains on its share of every epoch
(EpochSampler shards one draw), gradients are averaged by DistributedDataParallel, validation
predictions are gathered so every process scores the same full validation set, and only
rank 0 writes the run folder. Rank 0 also reads for everyone what decides the run (last.pt and
metrics.csv on resume, the epoch files of a weight average, a run group's member configs) and
hands it to the others, so nodes without a shared file system cannot disagree; `barrier` makes the
others wait for its files. nccl on CUDA (each process bound to cuda:LOCAL_RANK), gloo on CPU.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from base.device import select_device
from base.errors import UserError

_alone = False  # inside alone(): this process works by itself, whatever torchrun said
_control = None  # the gloo group of the run's own messages (see init_from_env)
# How long a process waits at a message for another: rank 0 may work alone for a while (score a
# k-fold group, pseudo-label 12,600 eval pictures, build a disk cache) while the others wait.
CONTROL_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this node: they share its cores and memory

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def env_rank() -> int:
    """This process's rank as torchrun tells it (0 when not launched so), before any process group."""
    return 0 if _alone else int(os.environ.get("RANK", "0"))


def init_from_env(device: torch.device) -> World:
    """Join the process group torchrun describes (once per process); World() when not launched so.
    On CUDA `device` must already be this process's GPU (see local_device): the group is bound to
    it, so nccl never opens a context on another process's GPU."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1 or _alone:
        return World()
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")), local_size)
    global _control
    if not dist.is_initialized():
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
        # The run's own messages (run folder, checkpoints, configs, barriers) travel on a gloo
        # group of their own: pickles stay in host memory, and waiting for rank 0 is bounded by
        # CONTROL_TIMEOUT, not by nccl's 10 minutes, which stays in force for DDP's gradients.
        _control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    return world


def local_device(device: torch.device) -> torch.device:
    """The device this process works on, made the current one on CUDA, so that pinned memory, the
    bf16 probe and cuDNN open no context on cuda:0 (often another user's GPU): under torchrun
    cuda:LOCAL_RANK, also inside alone(), whatever index the config names; else `device`."""
    if device.type != "cuda":
        return device
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    elif device.index is None:
        return device
    elif device.index >= (count := torch.cuda.device_count()):
        raise UserError(f"config knob 'device' is {str(device)!r} but {count} CUDA GPU(s) are visible "
                        f"(cuda:0..cuda:{count - 1}); pick one of those")
    torch.cuda.set_device(device)
    return device


def join(device_name: str) -> tuple[torch.device, World]:
    """This process's device (the `device` knob checked, then local_device) and its place in the
    torchrun job, joined; what a trainer and a run group each do first."""
    device = local_device(select_device(device_name))
    return device, init_from_env(device)


def shutdown() -> None:
    """Leave the process group at the end of a torchrun job (torch warns, and nccl may hang at
    exit, without it)."""
    global _control
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()  # every group, the control group too
    _control = None


@contextmanager
def alone() -> Iterator[None]:
    """Work in this process only while the others wait (e.g. rank 0 scoring a run group): trainers
    made inside see World() and make no collective calls."""
    global _alone
    was, _alone = _alone, True
    try:
        yield
    finally:
        _alone = was


def barrier(world: World) -> None:
    """Every process waits here until all have come (e.g. until rank 0's files are written)."""
    if world.enabled:
        dist.barrier(group=_control)


def broadcast(value, world: World):
    """Rank 0's value on every rank (e.g. the run folder it created)."""
    if not world.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=_control)
    return box[0]


def gather(value, world: World) -> list:
    """Every rank's value, in rank order, on every rank."""
    if not world.enabled:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value, group=_control)
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
