"""Checkpoint files: written atomically, read with `weights_only=True` (no code runs on load)."""
from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from base.atomic import atomic_path, torch_save
from base.errors import UserError


def save(path: Path, state: dict) -> None:
    torch_save(path, state)


def keep_last(run: Path, epoch: int, k: int) -> None:
    """Keep last.pt of this epoch as epoch-NNN.pt too, and only the newest `k` of those."""
    if k <= 0:
        return
    with atomic_path(run / f"epoch-{epoch:03d}.pt") as tmp:
        try:  # last.pt is only ever replaced, never rewritten in place, so a hard link is a copy
            tmp.unlink()
            os.link(run / "last.pt", tmp)
        except OSError:
            shutil.copyfile(run / "last.pt", tmp)
    for _, old in epoch_files(run)[:-k]:
        old.unlink(missing_ok=True)


def epoch_files(run: Path) -> list[tuple[int, Path]]:
    """(epoch, file) of the run's kept epoch-NNN.pt checkpoints, oldest first."""
    return sorted((int(m[1]), p) for p in run.glob("epoch-*.pt") if (m := re.fullmatch(r"epoch-(\d+)\.pt", p.name)))


def load(path: Path) -> dict:
    """The checkpoint at `path`; a file that is not one (empty, cut off, another format, holding
    code) is one line naming what it is."""
    if not Path(path).is_file():
        raise UserError(f"{path}: checkpoint not found; train first (python train.py) or pick another run")
    size = Path(path).stat().st_size
    fix = "pick another run, or train again (python train.py)"
    if size == 0:
        raise UserError(f"{path}: an empty file (0 bytes), not a checkpoint (copied while written, or a full "
                        f"disk?); {fix}")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols would add lines to the one
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not zipfile.is_zipfile(path):
            raise UserError(f"{path}: not a checkpoint torch.save wrote ({size} bytes of another format, such as "
                            f"a plain pickle); {fix}") from None
        raise UserError(f"{path}: refused, it holds more than weights and plain values ({_reason(err)}); "
                        "only load checkpoints written by mask18") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise UserError(f"{path}: not a readable checkpoint ({_reason(err)}; {size} bytes, cut off or damaged); "
                        f"{fix}") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a mask18 checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def _reason(err: Exception) -> str:
    """What torch's message says is wrong, in a few words: it leads with advice of its own."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    if found := re.search(r"Unsupported global: GLOBAL (\S+)", text):
        return f"it names {found[1]}, which may run code"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    return first.split(". ")[0].rstrip(".")


def rng_state() -> dict:
    """Every random stream the next step of this process depends on, as tensors and plain values:
    on CUDA the current device's only (a process trains on one GPU; under DDP each process's
    state is gathered into the checkpoint, see base/trainer_state.py)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached": cached},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_device"] = torch.cuda.get_rng_state(torch.cuda.current_device())
    return state


def set_rng_state(state: dict) -> str | None:
    """Restore what rng_state() saved; returns why the run is not bit-exact from here (None: it is).
    Checkpoints written before per-process states hold every visible GPU's (`cuda`, a list): the
    current device's is taken when the list reaches it."""
    random.setstate(_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    saved = state.get("cuda_device")
    if saved is None and state.get("cuda"):
        index = torch.cuda.current_device() if torch.cuda.is_available() else 0
        saved = state["cuda"][index] if index < len(state["cuda"]) else None
        if saved is None:
            return (f"last.pt holds the random states of {len(state['cuda'])} GPU(s), none for cuda:{index}; "
                    "the GPU's random stream starts anew")
    if saved is not None and torch.cuda.is_available():  # a GPU run moved to the CPU has no use for it
        torch.cuda.set_rng_state(saved, torch.cuda.current_device())
    return None


def _tuples(value):
    """random.setstate wants tuples where a save/load round trip may give lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
