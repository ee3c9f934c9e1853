"""val_probs.csv: the validation probabilities of the checkpoint a run keeps (best.pt).

    file,person,label,p0..p17      file relative to the data folder; label the official 18-class one

Written at every new best epoch, so it always shows best.pt. What decides from validation
evidence after training reads it instead of predicting the validation pictures again: the
person vote's guard (predict/vote_guard.py) and `inference.py --evaluate` without TTA.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from base.atomic import write_csv

FILE = "val_probs.csv"
COLUMNS = [f"p{c}" for c in range(18)]


def _keys(files, root: Path) -> list[str]:
    root = os.path.abspath(root)
    return [os.path.relpath(os.path.abspath(f), root) for f in files]


def write(run: Path, table: pd.DataFrame, probs: np.ndarray, root: Path) -> None:
    frame = pd.DataFrame({"file": _keys(table["file"], root), "person": table["person"].astype(str).to_numpy(),
                          "label": table["official_label"].to_numpy()})
    write_csv(run / FILE, pd.concat([frame, pd.DataFrame(np.asarray(probs, np.float32), columns=COLUMNS)], axis=1))


def read(run: Path, table: pd.DataFrame, root: Path) -> np.ndarray | None:
    """The stored (N, 18) probabilities in `table`'s order, or None when the run has none for
    exactly these pictures (an older run, another split) or they predate best.pt. The caller
    checks that `root` is the run's own data folder: the keys are paths inside it."""
    path, best = run / FILE, run / "best.pt"
    if not path.is_file() or best.is_file() and path.stat().st_mtime_ns < best.stat().st_mtime_ns:
        return None  # none, or older than best.pt (a run stopped between the two writes)
    stored = pd.read_csv(path, dtype={"file": str}).set_index("file")
    keys = _keys(table["file"], root)
    if len(stored) != len(keys) or not stored.index.is_unique or not set(keys) <= set(stored.index):
        return None
    return stored.loc[keys, COLUMNS].to_numpy(np.float64)
