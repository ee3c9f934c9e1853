"""Data-parallel training with torch.distributed, launched by torchrun (no home-made processes).

    torchrun --nproc_per_node=4 train.py --config configs/x.py

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; each process trains on its share of every epoch
(EpochSampler shards one draw), gradients are averaged by DistributedDataParallel, validation
predictions are gathered so every process scores the same full validation set, and only
rank 0 writes the run folder. nccl on CUDA (each process bound to cuda:LOCAL_RANK), gloo on CPU.

What crosses machines, and what needs a shared file system. Rank 0 reads for everyone what
decides the run and sends it to the others (`on_rank_0`; a UserError it raises stops every process
with its one line): the configuration and the run folder, `--resume auto`'s pick included
(base/resume.py), last.pt and metrics.csv on resume, the epoch files of a weight average, a run
group's member configs and the `pseudo_labels` rows. So training needs no shared file system:
what rank 0 writes during a job stays on its machine. A later start may give rank 0 to another
machine (torchrun's rendezvous orders the machines as it likes), so a resume needs the run
folder's config.json and last.pt on every machine, from a shared file system or a copy:
`same_everywhere` checks that every process sees the same file and names the machines that do
not. Every machine needs the code, and the data and the files the config names at the same paths.
A disk image cache is built once per cache folder, shared or not (data_loader/build_once.py).
`barrier` makes the others wait for rank 0's files.
"""
from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from base.device import select_device
from base.errors import UserError

T = TypeVar("T")
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


def init_from_env(device: torch.device, backend: str = "auto") -> World:
    """Join the process group torchrun describes (once per process); World() when not launched so.
    On CUDA `device` must already be this process's GPU (see local_device): the group is bound to
    it, so nccl never opens a context on another process's GPU. `backend` is the `ddp_backend`
    knob: "auto" is nccl on CUDA and gloo on the CPU; "gloo" is gloo everywhere (it carries CUDA
    tensors through the host, so processes may share a GPU, which nccl refuses)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1 or _alone:
        return World()
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")), local_size)
    global _control
    if not dist.is_initialized():
        if device.type == "cuda" and backend != "gloo":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
        # The run's own messages (run folder, checkpoints, configs, barriers) travel on a gloo
        # group of their own: pickles stay in host memory, and waiting for rank 0 is bounded by
        # CONTROL_TIMEOUT, not by nccl's 10 minutes, which stays in force for DDP's gradients.
        _control = dist.new_group(backend="gloo", timeout=CONTROL_TIMEOUT)
    return world


def local_device(device: torch.device, backend: str = "auto") -> torch.device:
    """The device this process works on, made the current one on CUDA, so that pinned memory, the
    bf16 probe and cuDNN open no context on cuda:0 (often another user's GPU): under torchrun
    cuda:LOCAL_RANK, also inside alone(), whatever index the config names; else `device`. With
    the gloo `backend` more processes than GPUs share them: cuda:(LOCAL_RANK mod GPUs)."""
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if backend == "gloo" and count:
            local %= count
        elif local >= count:
            raise UserError(f"torchrun started local rank {local} on this machine but {count} CUDA GPU(s) are "
                            f"visible: start at most --nproc_per_node={count}, or set ddp_backend='gloo' to let "
                            "processes share a GPU (slower than nccl)")
        device = torch.device("cuda", local)
    elif device.index is None:
        return device
    elif device.index >= count:
        raise UserError(f"config knob 'device' is {str(device)!r} but {count} CUDA GPU(s) are visible "
                        f"(cuda:0..cuda:{count - 1}); pick one of those")
    torch.cuda.set_device(device)
    return device


def join(device_name: str, backend: str = "auto") -> tuple[torch.device, World]:
    """This process's device (the `device` knob checked, then local_device) and its place in the
    torchrun job, joined over `backend` (the `ddp_backend` knob); what a trainer and a run group
    each do first."""
    device = local_device(select_device(device_name), backend)
    return device, init_from_env(device, backend)


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


def on_rank_0(work: Callable[[], T], world: World) -> T:
    """Rank 0's `work()` on every rank: what it reads decides for all. A UserError it raises
    stops every process with that line; raised on rank 0 alone, it would leave the others of
    another machine waiting for rank 0 until CONTROL_TIMEOUT."""
    if not world.enabled:
        return work()
    try:
        value = work() if world.main else None
    except UserError as err:
        value = err
    value = broadcast(value, world)
    if isinstance(value, UserError):
        raise _together(value)
    return value


def same_everywhere(path: Path, world: World) -> None:
    """Stop every process with one line unless all of them see the same file at `path` (each
    hashes its own copy) or none sees one (then the caller's own check says what that means).
    For the files a message cannot carry: rank 0 may run on any machine on a later start."""
    if not world.enabled:
        return
    seen = gather((f"{socket.gethostname()} (rank {world.rank})", _digest(path)), world)
    if not any(digest for _, digest in seen):
        return
    missing = [where for where, digest in seen if digest is None]
    differ = [where for where, digest in seen if digest not in (None, seen[0][1])]
    fix = ("torchrun may give rank 0 to any machine, so every machine needs the run folder: put runs_dir on a "
           "shared file system, or copy the newest run folder to the same path on each machine")
    if missing:
        raise _together(UserError(f"{path}: missing on {', '.join(missing)}; {fix}"))
    if differ:
        raise _together(UserError(f"{path}: the copy on {', '.join(differ)} differs from rank 0's; {fix}"))


def _together(error: UserError) -> UserError:
    error.everywhere = True  # every process raises it at this point: see leave_together
    return error


@contextmanager
def leave_together() -> Iterator[None]:
    """Leave the process group when a UserError that every process raised together ends the job
    (on_rank_0, same_everywhere): a process that exits inside the group may abort at exit
    (SIGABRT) instead of exiting with code 2. One that failed alone leaves nothing: the others
    may be waiting for it inside a collective call, and torchrun stops them."""
    try:
        yield
    except UserError as error:
        if getattr(error, "everywhere", False):
            shutdown()
        raise


def _digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            digest = hashlib.blake2b()
            while chunk := file.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


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
