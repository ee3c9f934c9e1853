"""Whether two runs trained the same thing on the same data (short hashes), and whether their
validation scores compare (what they were measured on)."""
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

# Knobs that shape a loss's scale: runs ranked by a loss compare only at one setting of them.
LOSS_SCALE = ("loss", "head_loss", "class_weights", "label_smoothing", "focal_gamma", "head_weights", "trainer",
              "sigmoid_heads", "age_target", "age_sigma")


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


def validation_persons(values: Mapping) -> str:
    """The persons a run's validation scores are measured on, in words: the folds are a function
    of the data, `folds` and `seed` alone (data_loader/split.py), and a k-fold group scores out of
    fold over the folds it trained. Training-only knobs (drop_ages, age_thresholds, pseudo_labels)
    leave them as they are."""
    kfold = values.get("kfold")
    where = f"out of fold over folds {values.get('kfold_folds') or 'all'}" if kfold else f"fold {values.get('fold')}"
    return f"{where} of {values.get('folds')} (seed {values.get('seed')})" + (
        ", unreadable pictures left out" if values.get("skip_bad_images") else "")


def validation_data(values: Mapping) -> str:
    """The data and the labels a run's validation scores are measured against, in words:
    `data_dir` (the built-in demo data: with the knobs it is drawn by) and `corrections`, which
    fixes labels before they are scored."""
    data = str(values.get("data_dir"))
    if data == "demo":
        size = values.get("demo_image_size")
        size = "x".join(map(str, size)) if isinstance(size, (list, tuple)) else size
        data += (f" ({values.get('demo_persons')}+{values.get('demo_eval_persons')} persons, {size}, "
                 f"seed {values.get('demo_seed')})")
    return data + (f", labels fixed by {values['corrections']}" if values.get("corrections") else "")
