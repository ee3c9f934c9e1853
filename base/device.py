"""Device choice and reproducible seeding."""
from __future__ import annotations

import random

import numpy as np
import torch

from base.errors import UserError


def select_device(name: str) -> torch.device:
    """"auto" takes CUDA when present; "cuda" without a GPU is the user's error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"config knob 'device': {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"config knob 'device' is {name!r} but no CUDA GPU is visible; use device=auto or cpu")
    return device


def configure_cudnn(device: torch.device, benchmark: bool) -> None:
    """On CUDA, `benchmark`: cuDNN times its algorithms for each new input shape and keeps the
    fastest (a few steps at the start, then often tens of percent faster for a fixed-shape CNN),
    at the price of run-to-run identity, since the pick depends on timing; otherwise its
    deterministic algorithms only (other CUDA kernels may still not repeat: that is torch's
    use_deterministic_algorithms). CPU runs are untouched and always repeat exactly."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = benchmark
        torch.backends.cudnn.deterministic = not benchmark


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global streams (every device's) from one seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_process(seed: int, rank: int) -> None:
    """After the model is built from `seed` alike in every process: each process's own random
    streams (dropout, drop-path, anything drawn in the step), so replicas do not draw identical
    masks. Rank 0 keeps `seed` itself, so a single-process run is unchanged."""
    if rank:
        seed_everything(seed + 1_000_003 * rank)
