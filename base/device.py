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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
