"""The decision offsets of an inference: fitted on the runs' validation (predict/offsets.py), or
read from a single run's offsets.json when they were fitted there for the same predictions."""
from __future__ import annotations

from pathlib import Path

from predict import offsets as offsets_lib
from predict import predictor, run_validation
from predict.kept import kept_or_made


def decide(models: list, runs: list[Path], weights, tta: list[str], mode: str,
           validation: run_validation.Validation | None = None) -> offsets_lib.Offsets:
    if mode == "off":
        return offsets_lib.Offsets()
    key = {"mode": mode, "fit": offsets_lib.FIT, **run_validation.key(models, runs, weights, tta)}

    def fit() -> offsets_lib.Offsets:
        try:
            table, probs = (validation or run_validation.Validation(models, weights, tta)).get()
        except predictor.DifferentValidation:
            return offsets_lib.Offsets(mode, reason="not applied: these runs share no validation persons, "
                                       "so no validation can fit offsets for their ensemble")
        return offsets_lib.decide(table, probs, mode, models[0].cfg.seed)

    return kept_or_made(runs, offsets_lib.FILE, offsets_lib.Offsets, key, fit, "decision offsets")
