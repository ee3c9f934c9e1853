"""What the decisions of an inference (decision offsets, the person vote) are fitted on: the
runs' validation, predicted with the submission's own weights and TTA views, and the key that
says when a decision kept in a run folder still holds for them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from predict import predictor


def key(models: list, runs: list[Path], weights, tta: list[str]) -> dict:
    """The runs, their weights and views, the checkpoints' times and the data: a decision kept
    with another key was made for other predictions."""
    cfg = models[0].cfg
    return {"runs": [str(r.resolve()) for r in runs], "weights": weights, "tta": tta,
            "checkpoints": [[str(p), p.stat().st_mtime_ns] for r in runs
                            for p in sorted(r.rglob(f"{cfg.checkpoint}.pt"))],
            "data": cfg.data_dir}


def validation(models: list, weights, tta: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """(validation table, (N, 18) probabilities) of the ensemble; predictor.DifferentValidation
    when the runs were validated on different persons."""
    return predictor.ensemble_validation([m.validation(tta) for m in models], "mean", weights)
