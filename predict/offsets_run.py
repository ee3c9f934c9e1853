"""The decision offsets of an inference: fitted on the runs' validation (predict/offsets.py), or
read from a single run's offsets.json when they were fitted there for the same predictions."""
from __future__ import annotations

import time
from pathlib import Path

from base.run_dir import setup_logging
from predict import offsets as offsets_lib
from predict import predictor, run_validation


def decide(models: list, runs: list[Path], weights, tta: list[str], mode: str,
           validation: run_validation.Validation | None = None) -> offsets_lib.Offsets:
    if mode == "off":
        return offsets_lib.Offsets()
    key = {"mode": mode, "fit": offsets_lib.FIT, **run_validation.key(models, runs, weights, tta)}
    stored = offsets_lib.Offsets.load(runs[0] / offsets_lib.FILE) if len(runs) == 1 else None
    if stored is not None and stored.key == key:
        setup_logging().info(f"decision offsets: fitted on validation earlier ({runs[0] / offsets_lib.FILE})")
        return stored
    started = time.perf_counter()
    try:
        table, probs = (validation or run_validation.Validation(models, weights, tta)).get()
    except predictor.DifferentValidation:
        return offsets_lib.Offsets(mode, key=key, reason="not applied: these runs were validated on different "
                                   "persons, so no validation can fit offsets for their ensemble")
    fitted = offsets_lib.decide(table, probs, mode, models[0].cfg.seed)
    fitted.key, fitted.figures["seconds"] = key, round(time.perf_counter() - started, 1)
    if len(runs) == 1:
        try:
            fitted.save(runs[0] / offsets_lib.FILE)
        except OSError as error:  # a read-only run folder: nothing is lost but the time
            setup_logging().info(f"decision offsets: could not keep them in {runs[0]} ({error.strerror})")
    return fitted
