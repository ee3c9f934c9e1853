"""Pseudo-labels: confident predictions on the eval images, used as extra training data.

A pseudo-label file is a csv of ImageID,ans[,confidence] over eval/images. Its rows join the
training table (never the validation split) as persons of their own ("eval:<ImageID>"), so the
person-grouped split and every trainer treat them like any training image.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from base.errors import UserError
from data_loader.labels import NUM_CLASSES, decode
from data_loader.layout import read_eval


def select(image_ids: pd.Series, probs: np.ndarray, threshold: float | Sequence[float],
           max_per_class: int = 0) -> pd.DataFrame:
    """ImageID, ans, confidence of the predictions whose top probability reaches the threshold
    (one for all, or one per class); at most `max_per_class` (the most confident) per class."""
    ans, confidence = probs.argmax(1), probs.max(1)
    bar = np.asarray(threshold, dtype=float)
    if bar.ndim and len(bar) != NUM_CLASSES:
        raise UserError(f"config knob 'pseudo_threshold': give one number or {NUM_CLASSES}, got {len(bar)}")
    keep = confidence >= (bar[ans] if bar.ndim else bar)
    chosen = pd.DataFrame({"ImageID": image_ids.to_numpy()[keep], "ans": ans[keep], "confidence": confidence[keep]})
    chosen = chosen.sort_values(["confidence", "ImageID"], ascending=[False, True], kind="stable")
    if max_per_class:
        chosen = chosen.groupby("ans", sort=False).head(max_per_class)
    return chosen.reset_index(drop=True)


def training_rows(path: str | Path, root: Path) -> pd.DataFrame:
    """The rows a pseudo-label file adds to the training table (labels as predicted)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config knob 'pseudo_labels': {path} not found")
    labels = pd.read_csv(path, dtype={"ImageID": str})
    if not {"ImageID", "ans"} <= set(labels.columns):
        raise UserError(f"{path}: needs columns ImageID,ans")
    files = read_eval(root).set_index("ImageID")["file"]
    unknown = sorted(set(labels["ImageID"]) - set(files.index))
    if unknown:
        raise UserError(f"{path}: {len(unknown)} ImageID(s) not in eval/info.csv, e.g. {unknown[0]!r}")
    ans = labels["ans"].to_numpy().astype(np.int64)
    mask, gender, group = decode(ans)
    return pd.DataFrame({"file": files.loc[labels["ImageID"]].to_numpy(), "person": "eval:" + labels["ImageID"],
                         "folder": "eval", "stem": "pseudo", "race": "", "age": -1, "mask": mask, "gender": gender,
                         "age_group": group, "label": ans, "official_age_group": group, "official_label": ans})
