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


class Validation:
    """(validation table, (N, 18) probabilities) of the ensemble, predicted once for every decision
    that asks (`get()`); predictor.DifferentValidation when the runs were validated on different
    persons."""

    def __init__(self, models: list, weights, tta: list[str]):
        self.models, self.weights, self.tta, self._done = models, weights, tta, None

    def get(self) -> tuple[pd.DataFrame, np.ndarray]:
        if self._done is None:
            try:
                self._done = predictor.ensemble_validation([m.validation(self.tta) for m in self.models], "mean",
                                                           self.weights)
            except predictor.DifferentValidation as error:
                self._done = error
        if isinstance(self._done, Exception):
            raise self._done
        return self._done

