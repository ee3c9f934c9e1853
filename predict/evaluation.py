"""`inference.py --evaluate`: the runs' validation macro F1 without and with TTA; with decision
offsets their gain on persons they were not fitted on; with a person vote what it does there
(found groups against the true persons) and what its guard decides."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from data_loader.layout import data_root, read_eval
from data_loader.verify import check_images
from model.metric import validation_metrics
from predict import offsets as offsets_lib
from predict import person_groups, person_vote, predictor, vote_guard
from predict.vote_run import validation_groups


def evaluate(models: list, weights: list[float] | None, tta: list[str], log, vote: str = "off",
             offsets: str = "off") -> dict:
    """Validation macro F1 of the (ensembled) runs, without TTA and with the given views; with
    decision offsets their cross-fitted gain (predict/offsets.py), and the vote below sees them
    applied; with a person vote also the grouping's quality and the F1 after the vote, with the
    found groups and with the true persons (the oracle)."""
    result, groups, shift = {}, None, offsets_lib.Offsets()
    for label, views in [("no TTA", [])] + ([(f"TTA {'+'.join(tta)}", tta)] if tta else []):
        table, probs = predictor.ensemble_validation([m.validation(views) for m in models], "mean", weights)
        row = validation_metrics(probs, table)
        result[label] = row
        log.info(f"validation ({len(table)} images, {label}): macro F1 {row['val_f1']:.4f} (mask "
                 f"{row['val_f1_mask']:.3f} gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f} "
                 f">=60 {row['val_f1_60plus']:.3f})")
        if offsets != "off":
            shift = offsets_lib.decide(table, probs, offsets, models[0].cfg.seed)
            log.info("  " + shift.line())
            result[label]["offsets"] = asdict(shift)
            probs = shift.apply(probs)
        if vote != "off":
            if groups is None:  # a k-fold group's out-of-fold table: a quarter of its persons (vote_guard.py)
                scored = vote_guard.scored_rows(models[0].cfg, table)
                voted_table = table[scored].reset_index(drop=True)
                groups = validation_groups(models[0].cfg, voted_table, log)
                result["grouping"] = person_groups.quality(groups, voted_table["person"].to_numpy())
                q = result["grouping"]
                log.info(f"grouping of {len(voted_table)} validation pictures: adjusted Rand index {q['ari']:.3f}, "
                         f"{q['pure']:.1%} of pictures in a group of one person, {q['mixed']} groups mixing persons")
            where = (f"its {len(voted_table)} of these {len(table)} pictures" if len(voted_table) != len(table)
                     else "these pictures") + (", offsets applied" if offsets != "off" else "")
            result[label]["vote"] = person_vote_rows(probs[scored], voted_table, groups, log, where)
    if vote != "off" and models[0].cfg.person_vote_guard:  # what inference would do, with these views
        eval_table = check_images(read_eval(data_root(models[0].cfg)), "eval")
        among = shift.apply(predictor.combine_probabilities([m.predict(eval_table, tta) for m in models], "mean",
                                                            weights))
        decision = vote_guard.decide(models[0].cfg, table, probs, vote, (eval_table["file"].tolist(), among))
        log.info(decision.line() + " (chosen on these very persons; an eval set is the fair test)")
        result["guard"] = asdict(decision)
    return result


def person_vote_rows(probs, table: pd.DataFrame, groups, log, where: str = "") -> dict:
    """Validation F1 after the vote and after vote + mask assignment, found groups and oracle;
    `where` says what the F1 before the vote is measured on (it differs from the lines above when
    the vote is scored on part of the pictures, or after the offsets)."""
    oracle = table["person"].to_numpy()
    base = validation_metrics(probs, table)["val_f1"]
    rows = {}
    for name, assign in (("vote", False), ("assign", True)):
        for source, grouping in (("found", groups), ("oracle", oracle)):
            voted = person_vote.vote(probs, grouping, assign)
            rows[f"{name} {source}"] = {**validation_metrics(voted, table),
                                        "right_wrong": person_vote.changed(probs, voted, table["official_label"])}
        found, ideal = rows[f"{name} found"]["val_f1"], rows[f"{name} oracle"]["val_f1"]
        right, wrong = rows[f"{name} found"]["right_wrong"]
        on = f" (on {where})" if where else ""
        log.info(f"  {'vote' if name == 'vote' else 'vote + 5/1/1 masks'}{on}: macro F1 {base:.4f} -> {found:.4f} "
                 f"(true persons: {ideal:.4f}; {oracle_share(base, found, ideal)}); gender+age made right {right}, "
                 f"made wrong {wrong} pictures")
    return rows


def oracle_share(base: float, found: float, ideal: float) -> str:
    """How much of the true persons' gain the found groups reach, in words that cannot flatter:
    a share only when the true persons gain."""
    if ideal > base:
        return f"{(found - base) / (ideal - base):.0%} of the oracle's gain"
    return f"the true persons change it by {ideal - base:+.4f}: no gain to reach"
