"""Predict the eval images with trained runs and write submission.csv.

    python inference.py                                  # the newest run in runs/, its best.pt
    python inference.py --run runs/a --run runs/b --weights 2 1 --tta flip,scale
    python inference.py --run runs/kfold-x --tta flip --evaluate   # validation F1, without and with TTA
    python inference.py --person-vote assign          # gender and age voted per person found, masks 5/1/1
                                                      # (as strongly as validation shows it helps)

A --run may be a run, a run group (separate models, pseudo-label rounds) or a k-fold group;
several are averaged in probability space (soft voting), whatever their heads. Besides the
submission, the averaged probabilities are written (ImageID, p0..p17) for later ensembles, before
any person vote; with --person-vote the vote's decision (<out>_vote.json, and person_vote.json in a
single --run's folder) and the group of every picture (<out>_groups.csv).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from base import config as config_lib
from base.atomic import write_csv
from base.errors import ArgumentParser, UserError, exit_on_user_error
from base.run_dir import newest, setup_logging
from data_loader.layout import data_root, read_eval
from data_loader.verify import check_images
from model.metric import validation_metrics
from model.tta import VIEWS
from predict import person_groups, person_vote, predictor, vote_guard
from predict.submission import score, write_submission


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = ArgumentParser(prog="python inference.py", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, action="append", help="run or group folder made by train.py "
                    "(repeat to ensemble; default: the newest in runs/)")
    ap.add_argument("--weights", type=float, nargs="+", help="one weight per --run for the average (default: equal)")
    ap.add_argument("--tta", help="comma-separated test-time views: flip, scale, shift, brightness; 'none' for "
                    "none (default: the first run's tta knob)")
    ap.add_argument("--evaluate", action="store_true", help="score the runs' validation images (out-of-fold for "
                    "k-fold groups) without and with TTA, and with --person-vote what the vote does and what its "
                    "guard decides (which predicts the eval images too); writes nothing")
    ap.add_argument("--person-vote", choices=("off", "vote", "assign"), help="find the persons among the pictures "
                    "and decide each one's gender and age together; assign: and each group of seven its 5 worn / "
                    "1 incorrect / 1 none masks; as strongly as the runs' validation shows it helps, or not at all "
                    "(person_vote_guard) (default: the first run's person_vote knob)")
    ap.add_argument("--person-vote-guard", choices=("on", "off"), help="off: vote in full without measuring it "
                    "on validation first (default: the first run's person_vote_guard knob, normally on)")
    ap.add_argument("--checkpoint", choices=("best", "last", "averaged"), help="which weights; averaged: "
                    "the mean of the last epochs, trained with average_last (default: each run's config)")
    ap.add_argument("--data-dir", help="predict this data folder instead of the runs' data_dir")
    ap.add_argument("--out", type=Path, default=Path("submission.csv"), help="where to write (default: %(default)s)")
    ap.add_argument("--probs", type=Path, help="where to write the probabilities (default: beside --out, "
                    "named <out>_probs.csv)")
    ap.add_argument("--batch-size", type=_positive, help="images per batch (default: inference_batch_size)")
    ap.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: the run's)")
    ap.add_argument("--answers", type=Path, help="score against an answers csv (ImageID,ans); "
                    "default: eval/answers.csv when the data folder has one (the demo data does)")
    return ap.parse_args(argv)


def check_args(args: argparse.Namespace, runs: list[Path], probs_path: Path) -> None:
    """What the command line gets wrong fails now, not after every eval image was predicted."""
    for run in runs:
        if not run.is_dir():
            raise UserError(f"--run {run}: no such folder; pass a run folder made by train.py")
    if args.weights and len(args.weights) != len(runs):
        raise UserError(f"--weights: give one weight per --run ({len(runs)}), got {len(args.weights)}")
    if args.weights and (min(args.weights) < 0 or sum(args.weights) <= 0):
        raise UserError(f"--weights must be 0 or more, not all 0 (they weigh an average), "
                        f"got {' '.join(map(str, args.weights))}")
    for flag, path, name in (("--out", args.out, "submission.csv"), ("--probs", probs_path, "submission_probs.csv")):
        if path.is_dir():
            raise UserError(f"{flag} {path} is a folder; give a file name, e.g. {path / name}")
        if not args.evaluate:  # the folders of every output (the vote's and groups' files sit beside --out)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserError(f"{flag} {path}: cannot make its folder ({error.strerror}); give a writable "
                                "place") from None
    if args.answers and not args.answers.is_file():
        raise UserError(f"--answers {args.answers} not found; give a csv with columns ImageID,ans or leave it out")


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    log = setup_logging()
    runs = args.run or [newest(config_lib.load().runs_dir)]
    probs_path = args.probs or args.out.with_name(args.out.stem + "_probs.csv")
    check_args(args, runs, probs_path)
    guard = None if args.person_vote_guard is None else args.person_vote_guard == "on"
    changes = {knob: value for knob, value in (("data_dir", args.data_dir), ("inference_batch_size", args.batch_size),
               ("device", args.device), ("checkpoint", args.checkpoint), ("person_vote_guard", guard))
               if value is not None}
    models = [predictor.load(run, changes) for run in runs]
    tta = models[0].cfg.tta if args.tta is None else [v.strip() for v in args.tta.split(",") if v.strip()]
    tta = [v for v in tta if v != "none"]
    for view in tta:  # an unknown name fails before the eval images are read
        VIEWS.get(view)
    vote = args.person_vote or models[0].cfg.person_vote
    if args.evaluate:
        return evaluate(models, args.weights, tta, log, vote)
    root = data_root(models[0].cfg)
    table = check_images(read_eval(root), "eval")
    started = time.perf_counter()
    probs = predictor.combine_probabilities([m.predict(table, tta) for m in models], "mean", args.weights)
    seconds = time.perf_counter() - started
    voted, decision = probs, None
    if vote != "off":
        decision = vote_decision(models, runs, args.weights, tta, vote, (table["file"].tolist(), probs))
        decision.save(args.out.with_name(args.out.stem + "_vote.json"))
        log.info(decision.line())
    if decision is not None and decision.acts:
        groups = find_persons(models[0].cfg, table, log, cut_scale=decision.cut_scale)
        voted = person_vote.vote(probs, groups, decision.assign, decision.strength)
        sizes = pd.Series(groups).map(pd.Series(groups).value_counts())
        write_csv(args.out.with_name(args.out.stem + "_groups.csv"),
                  pd.DataFrame({"ImageID": table["ImageID"], "group": groups, "group_size": sizes}))
    submission = write_submission(root / "eval" / "info.csv", table["ImageID"], voted.argmax(1), args.out)
    write_csv(probs_path, pd.concat([table[["ImageID"]], pd.DataFrame(probs, columns=[f"p{c}" for c in range(18)])],
                                    axis=1))
    views = f" x {len(tta) + 1} TTA views" if tta else ""
    log.info(f"wrote {args.out} ({len(submission)} rows) and {probs_path} from {len(models)} model folder(s){views} "
             f"in {seconds:.1f}s ({len(table) * len(models) * (len(tta) + 1) / seconds:.0f} images/s)"
             + (f", person vote {vote}" if decision is not None and decision.acts else ""))
    answers = args.answers or (root / "eval" / "answers.csv")
    result = {"rows": len(submission)}
    if args.answers or answers.is_file():
        result.update(score(submission, answers))
        log.info(f"score against {answers}: macro F1 {result['f1']:.4f} (mask {result['f1_mask']:.3f} "
                 f"gender {result['f1_gender']:.3f} age {result['f1_age']:.3f})")
    return result


def vote_decision(models: list, runs: list[Path], weights, tta: list[str], mode: str,
                  among: tuple[list[str], np.ndarray]) -> vote_guard.Decision:
    """How the vote acts on these runs: decided from their validation, grouped among the eval
    pictures `among` (files, probabilities; predict/vote_guard.py), or read from a single run's
    person_vote.json when it was decided there for the same setting."""
    cfg = models[0].cfg
    if not cfg.person_vote_guard:
        return vote_guard.plain(mode)
    key = {"mode": mode, "runs": [str(r.resolve()) for r in runs], "weights": weights, "tta": tta,
           "checkpoints": [[str(p), p.stat().st_mtime_ns] for r in runs
                           for p in sorted(r.rglob(f"{cfg.checkpoint}.pt"))],
           "grouping": [cfg.person_vote_size, cfg.seed], "data": cfg.data_dir}
    stored = vote_guard.Decision.load(runs[0] / vote_guard.FILE) if len(runs) == 1 else None
    if stored is not None and stored.key == key:
        setup_logging().info(f"person vote: decided from validation earlier ({runs[0] / vote_guard.FILE})")
        return stored
    started = time.perf_counter()
    parts = [m.validation(tta) for m in models]
    try:
        table, probs = predictor.ensemble_validation(parts, "mean", weights)
    except predictor.DifferentValidation:
        return vote_guard.Decision(mode, key=key, reason="these runs were validated on different persons, so no "
                                   "validation shows what the vote does to their ensemble; vote one run, or "
                                   "ensemble runs of one split (or --person-vote-guard off)")
    decision = vote_guard.decide(cfg, table, probs, mode, among)
    decision.key, decision.figures["seconds"] = key, round(time.perf_counter() - started, 1)
    if len(runs) == 1:
        try:
            decision.save(runs[0] / vote_guard.FILE)
        except OSError as error:  # a read-only run folder: the copy beside --out is what counts
            setup_logging().info(f"person vote: could not keep the decision in {runs[0]} ({error.strerror})")
    return decision


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


def evaluate(models: list, weights: list[float] | None, tta: list[str], log, vote: str = "off") -> dict:
    """Validation macro F1 of the (ensembled) runs, without TTA and with the given views; with a
    person vote also the grouping's quality and the F1 after the vote, with the found groups and
    with the true persons (the oracle)."""
    result, groups = {}, None
    for label, views in [("no TTA", [])] + ([(f"TTA {'+'.join(tta)}", tta)] if tta else []):
        table, probs = predictor.ensemble_validation([m.validation(views) for m in models], "mean", weights)
        row = validation_metrics(probs, table)
        result[label] = row
        log.info(f"validation ({len(table)} images, {label}): macro F1 {row['val_f1']:.4f} (mask "
                 f"{row['val_f1_mask']:.3f} gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f} "
                 f">=60 {row['val_f1_60plus']:.3f})")
        if vote != "off":
            if groups is None:  # a k-fold group's out-of-fold table: a quarter of its persons (vote_guard.py)
                scored = vote_guard.scored_rows(models[0].cfg, table)
                voted_table = table[scored].reset_index(drop=True)
                groups = validation_groups(models[0].cfg, voted_table, log)
                result["grouping"] = person_groups.quality(groups, voted_table["person"].to_numpy())
                q = result["grouping"]
                log.info(f"grouping of {len(voted_table)} validation pictures: adjusted Rand index {q['ari']:.3f}, "
                         f"{q['pure']:.1%} of pictures in a group of one person, {q['mixed']} groups mixing persons")
            result[label]["vote"] = person_vote_rows(probs[scored], voted_table, groups, log)
    if vote != "off" and models[0].cfg.person_vote_guard:  # what inference would do, with these views
        eval_table = check_images(read_eval(data_root(models[0].cfg)), "eval")
        among = predictor.combine_probabilities([m.predict(eval_table, tta) for m in models], "mean", weights)
        decision = vote_guard.decide(models[0].cfg, table, probs, vote, (eval_table["file"].tolist(), among))
        log.info(decision.line() + " (chosen on these very persons; an eval set is the fair test)")
        result["guard"] = asdict(decision)
    return result


def person_vote_rows(probs, table: pd.DataFrame, groups, log) -> dict:
    """Validation F1 after the vote and after vote + mask assignment, found groups and oracle."""
    oracle = table["person"].to_numpy()
    base = validation_metrics(probs, table)["val_f1"]
    rows = {}
    for name, assign in (("vote", False), ("assign", True)):
        for source, grouping in (("found", groups), ("oracle", oracle)):
            voted = person_vote.vote(probs, grouping, assign)
            rows[f"{name} {source}"] = {**validation_metrics(voted, table),
                                        "right_wrong": person_vote.changed(probs, voted, table["official_label"])}
        found, ideal = rows[f"{name} found"]["val_f1"], rows[f"{name} oracle"]["val_f1"]
        share = f"{(found - base) / (ideal - base):.0%} of the oracle's gain" if ideal != base else "no oracle gain"
        right, wrong = rows[f"{name} found"]["right_wrong"]
        log.info(f"  {'vote' if name == 'vote' else 'vote + 5/1/1 masks'}: macro F1 {base:.4f} -> {found:.4f} "
                 f"(true persons: {ideal:.4f}; {share}); gender+age made right {right}, made wrong {wrong} pictures")
    return rows


if __name__ == "__main__":
    main()
