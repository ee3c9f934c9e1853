"""submission.csv: info.csv with `ans` filled, same rows and order, checked, written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from base.errors import UserError
from data_loader.labels import NUM_CLASSES
from model.metric import evaluate


def submission_frame(info_csv: Path, image_ids: pd.Series, pred: np.ndarray) -> pd.DataFrame:
    """info.csv with `ans` filled from `pred` (given in info.csv's order), checked."""
    info = pd.read_csv(info_csv, dtype=str, keep_default_na=False)
    pred = np.asarray(pred)
    if len(pred) != len(info) or not (info["ImageID"].to_numpy() == image_ids.to_numpy()).all():
        raise RuntimeError("predictions do not line up with info.csv")  # a bug, not bad input
    if pred.dtype.kind not in "iu" or pred.min() < 0 or pred.max() >= NUM_CLASSES:
        raise RuntimeError("predicted classes outside 0..17")
    info["ans"] = pred.astype(int)
    return info


def score(submission: pd.DataFrame, answers_csv: Path) -> dict[str, float]:
    """Macro F1 (18-class and per head) of a submission against an answers file (ImageID,ans)."""
    answers = pd.read_csv(answers_csv, dtype={"ImageID": str})
    merged = answers.merge(submission[["ImageID", "ans"]], on="ImageID", suffixes=("_true", ""))
    if len(merged) != len(answers):
        raise UserError(f"{answers_csv}: its ImageIDs do not match the submission's")
    onehot = np.eye(NUM_CLASSES)[merged["ans"].astype(int).to_numpy()]
    return evaluate(onehot, merged["ans_true"].to_numpy())
