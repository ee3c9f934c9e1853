"""The person vote of an inference: its decision (from validation, or kept from an earlier one)
and the persons found among the pictures, with the lines a user reads about them."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from predict import person_groups, predictor, run_validation, vote_guard
from predict.kept import kept_or_made
from predict.offsets import Offsets


def decide(models: list, runs: list[Path], weights, tta: list[str], mode: str,
           among: tuple[list[str], np.ndarray], offsets: Offsets | None = None,
           validation: run_validation.Validation | None = None) -> vote_guard.Decision:
    """How the vote acts on these runs: decided from their validation (with the decision
    `offsets` applied, as they are to the eval pictures), grouped among the eval pictures `among`
    (files, probabilities; predict/vote_guard.py), or read from a single run's person_vote.json
    when it was decided there for the same setting."""
    cfg = models[0].cfg
    if not cfg.person_vote_guard:
        return vote_guard.plain(mode)
    offsets = offsets or Offsets()
    key = {"mode": mode, **run_validation.key(models, runs, weights, tta),
           "grouping": [cfg.person_vote_size, cfg.seed], "offsets": offsets.values}

    def decide_now() -> vote_guard.Decision:
        try:
            table, probs = (validation or run_validation.Validation(models, weights, tta)).get()
        except predictor.DifferentValidation:
            return vote_guard.Decision(mode, reason="these runs share no validation persons, so no "
                                       "validation shows what the vote does to their ensemble; vote one run, or "
                                       "ensemble runs of one split (or --person-vote-guard off)")
        return vote_guard.decide(cfg, table, offsets.apply(probs), mode, among)

    return kept_or_made(runs, vote_guard.FILE, vote_guard.Decision, key, decide_now, "person vote")


def find_persons(cfg, table: pd.DataFrame, log, leave_out=(), cut_scale: float = 1.0) -> np.ndarray:
    """The group of every picture of `table`, from its pixels alone (predict/person_groups.py),
    with the grouping's calibrated cut times `cut_scale`."""
    started = time.perf_counter()
    grouper = person_groups.for_config(cfg, leave_out)
    grouper.cut *= cut_scale
    groups = grouper.groups(table["file"].tolist())
    sizes = pd.Series(groups).value_counts()
    log.info(f"person vote: {len(table)} pictures in {len(sizes)} groups ({(sizes == 7).sum()} of seven, "
             f"{(sizes == 1).sum()} of one, largest {sizes.max()}); cut {grouper.cut:.2f} from training "
             f"persons (their ARI {grouper.calibration_ari:.3f}) in {time.perf_counter() - started:.0f}s")
    return groups


def validation_groups(cfg, table: pd.DataFrame, log) -> np.ndarray:
    """The group of every validation picture, in table order, found as on an eval set: the
    pictures shuffled, grouped from their pixels alone, by a grouping learnt from other persons."""
    order = np.random.default_rng(0).permutation(len(table))
    groups = np.empty(len(table), np.int64)
    groups[order] = find_persons(cfg, table.iloc[order], log, leave_out=table["person"].unique())
    return groups
