"""Short hashes that tell whether two runs trained the same thing on the same data."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

import pandas as pd

# Knobs that name, place or watch a run without changing what it learns: left out of the
# config hash, and of the knobs the run report compares.
BOOKKEEPING = frozenset({"name", "runs_dir", "device", "num_workers", "inference_batch_size", "checkpoint",
                         "plots", "gallery_size", "tensorboard", "wandb", "wandb_project", "wandb_mode"})


def config_hash(values: Mapping) -> str:
    """12 hex digits of the resolved knobs, bookkeeping knobs left out."""
    kept = {k: v for k, v in dict(values).items() if k not in BOOKKEEPING}
    text = json.dumps(kept, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def data_fingerprint(table: pd.DataFrame) -> str:
    """12 hex digits over the training rows: each image's path relative to the data folder, its
    size in bytes, and its person's mask, gender and age. A relabelled person, an added, removed
    or re-encoded picture change it; copying the folder elsewhere does not. Pixels are not read
    (a stat per file: fast even for the full competition set)."""
    files = table["file"].tolist()
    root = os.path.commonpath(files) if len(files) > 1 else os.path.dirname(files[0]) if files else ""
    rows = sorted(
        (os.path.relpath(file, root), os.stat(file).st_size, int(mask), int(gender), int(age))
        for file, mask, gender, age in zip(files, table["mask"], table["gender"], table["age"], strict=True)
    )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]
