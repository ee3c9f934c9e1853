"""Predict the eval images with trained runs and write submission.csv.

    python inference.py                                  # the newest run in runs/, its best.pt
    python inference.py --run runs/a --run runs/b --weights 2 1 --tta flip,scale
    python inference.py --run runs/kfold-x --tta flip --evaluate   # validation F1, without and with TTA
    python inference.py --person-vote                    # gender and age voted per person found
    python inference.py --person-vote assign             # ... and masks 5/1/1 per group of seven
                                                         # (as strongly as validation shows it helps)

A --run may be a run, a run group (separate models, pseudo-label rounds) or a k-fold group;
several are averaged in probability space (soft voting), whatever their heads. Besides the
submission, the averaged probabilities are written (ImageID, p0..p17) for later ensembles, before
any person vote; with --person-vote the vote's decision (<out>_vote.json, and person_vote.json in a
single --run's folder) and the group of every picture (<out>_groups.csv). Every output path is
checked before the first image is read, and the files are written together at the end: all, or none.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from base.cli_types import HelpFormatter, positive_int
from base.errors import ArgumentParser, UserError, exit_on_user_error


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python inference.py", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--run", type=Path, action="append", help="run or group folder made by train.py "
                    "(repeat to ensemble; default: the newest in runs/)")
    ap.add_argument("--weights", type=float, nargs="+", help="one weight per --run for the average (default: equal)")
    ap.add_argument("--tta", help="comma-separated test-time views: flip, scale, shift, brightness (all of them: "
                    "python train.py --list views); 'none' for none (default: the first run's tta knob)")
    ap.add_argument("--evaluate", action="store_true", help="score the runs' validation images (out-of-fold for "
                    "k-fold groups) without and with TTA, and with --person-vote what the vote does and what its "
                    "guard decides (which predicts the eval images too); writes nothing")
    ap.add_argument("--offsets", choices=("off", "head", "class"), help="decision offsets toward the rare classes, "
                    "fitted on the runs' validation for macro F1 and applied only when they gain on persons they "
                    "were not fitted on; head: 8, class: 18 (default: the first run's decision_offsets knob)")
    ap.add_argument("--person-vote", nargs="?", const="vote", choices=("off", "vote", "assign"),
                    help="find the persons among the pictures and decide each one's gender and age together "
                    "(alone: vote); assign: and each group of seven its 5 worn / 1 incorrect / 1 none masks; as "
                    "strongly as the runs' validation shows it helps, or not at all (person_vote_guard) "
                    "(default: the first run's person_vote knob)")
    ap.add_argument("--person-vote-guard", choices=("on", "off"), help="off: vote in full without measuring it "
                    "on validation first (default: the first run's person_vote_guard knob, normally on)")
    ap.add_argument("--checkpoint", choices=("best", "last", "averaged"), help="which weights; averaged: "
                    "the mean of the last epochs, trained with average_last (default: each run's config)")
    ap.add_argument("--data-dir", help="predict this data folder instead of the runs' data_dir")
    ap.add_argument("--out", type=Path, default=Path("submission.csv"), help="the submission file to write")
    ap.add_argument("--probs", type=Path, help="where to write the probabilities (default: beside --out, "
                    "named <out>_probs.csv)")
    ap.add_argument("--batch-size", type=positive_int, help="images per batch (default: inference_batch_size)")
    ap.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: the run's)")
    ap.add_argument("--answers", type=Path, help="score against an answers csv (ImageID,ans); "
                    "default: eval/answers.csv when the data folder has one (the demo data does)")
    return ap


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def outputs(args: argparse.Namespace) -> dict[str, Path]:
    """Every file inference may write, by what names it: --out and --probs, and beside --out the
    vote's decision and the groups."""
    out = args.out
    return {"--out": out, "--probs": args.probs or out.with_name(out.stem + "_probs.csv"),
            "the vote's decision (beside --out)": out.with_name(out.stem + "_vote.json"),
            "the groups (beside --out)": out.with_name(out.stem + "_groups.csv")}


def check_args(args: argparse.Namespace, runs: list[Path], paths: dict[str, Path]) -> None:
    """What the command line gets wrong fails now, not after every eval image was predicted:
    the runs, the weights, and every output (not a folder, its folder made and writable)."""
    for run in runs:
        if not run.is_dir():
            raise UserError(f"--run {run}: no such folder; pass a run folder made by train.py")
    if args.weights and len(args.weights) != len(runs):
        raise UserError(f"--weights: give one weight per --run ({len(runs)}), got {len(args.weights)}")
    if args.weights and (min(args.weights) < 0 or sum(args.weights) <= 0):
        raise UserError(f"--weights must be 0 or more, not all 0 (they weigh an average), "
                        f"got {' '.join(map(str, args.weights))}")
    if args.answers and not args.answers.is_file():
        raise UserError(f"--answers {args.answers} not found; give a csv with columns ImageID,ans or leave it out")
    if args.evaluate:  # writes nothing
        return
    named = {}
    for what, path in paths.items():
        if path.resolve() in named:
            raise UserError(f"{what} and {named[path.resolve()]} name the same file {path}; give them different names")
        named[path.resolve()] = what
    for what, path in paths.items():
        if path.is_dir():
            raise UserError(f"{what}: {path} is a folder; give --out a file name, e.g. {args.out / 'submission.csv'}"
                            if what == "--out" else f"{what}: {path} is a folder; give a file name")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(f"{what} {path}: cannot make its folder ({error.strerror}); give a writable "
                            "place") from None
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise UserError(f"{what} {path}: cannot be written (no permission); give a writable place")


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import pandas as pd  # the heavy imports: after the command line is understood

    from base import config as config_lib
    from base.atomic import atomic_paths
    from base.run_dir import newest, setup_logging
    from data_loader.layout import data_root, read_eval
    from data_loader.verify import check_images
    from group import preflight
    from predict import evaluation, offsets_run, person_vote, predictor, run_validation, vote_run
    from predict.submission import score, submission_frame

    log = setup_logging()
    runs = args.run or [newest(config_lib.load().runs_dir)]
    paths = outputs(args)
    check_args(args, runs, paths)
    guard = None if args.person_vote_guard is None else args.person_vote_guard == "on"
    changes = {knob: value for knob, value in (("data_dir", args.data_dir), ("inference_batch_size", args.batch_size),
               ("device", args.device), ("checkpoint", args.checkpoint), ("person_vote_guard", guard))
               if value is not None}
    models = [predictor.load(run, changes) for run in runs]
    tta = models[0].cfg.tta if args.tta is None else [v.strip() for v in args.tta.split(",") if v.strip()]
    tta = [v for v in tta if v != "none"]
    preflight.tta(tta, models[0].cfg.tta_args)  # an unknown name fails before the eval images are read
    vote = args.person_vote or models[0].cfg.person_vote
    shift = args.offsets or models[0].cfg.decision_offsets
    if args.evaluate:
        return evaluation.evaluate(models, args.weights, tta, log, vote, shift)
    root = data_root(models[0].cfg)
    table = check_images(read_eval(root), "eval")
    started = time.perf_counter()
    probs = predictor.combine_probabilities([m.predict(table, tta) for m in models], "mean", args.weights)
    seconds = time.perf_counter() - started
    validation = run_validation.Validation(models, args.weights, tta)  # predicted once for both decisions
    offsets = offsets_run.decide(models, runs, args.weights, tta, shift, validation)
    if shift != "off":
        log.info(offsets.line())
    voted, decision, frames = offsets.apply(probs), None, {}
    if vote != "off":
        decision = vote_run.decide(models, runs, args.weights, tta, vote, (table["file"].tolist(), voted), offsets,
                                   validation)
        log.info(decision.line())
    if decision is not None and decision.acts:
        groups = vote_run.find_persons(models[0].cfg, table, log, cut_scale=decision.cut_scale)
        voted = person_vote.vote(voted, groups, decision.assign, decision.strength)
        sizes = pd.Series(groups).map(pd.Series(groups).value_counts())
        frames["the groups (beside --out)"] = pd.DataFrame({"ImageID": table["ImageID"], "group": groups,
                                                            "group_size": sizes})
    frames["--out"] = submission = submission_frame(root / "eval" / "info.csv", table["ImageID"], voted.argmax(1))
    frames["--probs"] = pd.concat([table[["ImageID"]], pd.DataFrame(probs, columns=[f"p{c}" for c in range(18)])],
                                  axis=1)
    writers = {paths[what]: (lambda path, frame=frame: frame.to_csv(path, index=False))
               for what, frame in frames.items()}
    if decision is not None:
        writers[paths["the vote's decision (beside --out)"]] = lambda path: path.write_text(decision.to_json())
    with atomic_paths(list(writers)) as temps:  # all written, or none
        for write, temp in zip(writers.values(), temps, strict=True):
            write(temp)
    for stale in set(paths.values()) - set(writers):  # a companion of an earlier submission would mislead
        stale.unlink(missing_ok=True)
    views = f" x {len(tta) + 1} TTA views" if tta else ""
    log.info(f"wrote {args.out} ({len(submission)} rows) and {paths['--probs']} from {len(models)} model folder(s)"
             f"{views} in {seconds:.1f}s ({len(table) * len(models) * (len(tta) + 1) / seconds:.0f} images/s)"
             + (f", person vote {vote}" if decision is not None and decision.acts else ""))
    answers = args.answers or (root / "eval" / "answers.csv")
    result = {"rows": len(submission)}
    if args.answers or answers.is_file():
        result.update(score(submission, answers))
        log.info(f"score against {answers}: macro F1 {result['f1']:.4f} (mask {result['f1_mask']:.3f} "
                 f"gender {result['f1_gender']:.3f} age {result['f1_age']:.3f})")
    return result


if __name__ == "__main__":
    main()
