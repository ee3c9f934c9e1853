"""Predict the eval images with trained runs and write submission.csv.

    python inference.py                                  # the newest run in runs/, its best.pt
    python inference.py --run runs/a --run runs/b --weights 2 1 --tta flip,scale
    python inference.py --run runs/kfold-x --tta flip --evaluate   # validation F1, without and with TTA

A --run may be a run, a run group (separate models, pseudo-label rounds) or a k-fold group;
several are averaged in probability space (soft voting), whatever their heads. Besides the
submission, the averaged probabilities are written (ImageID, p0..p17) for later ensembles.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from base import config as config_lib
from base.atomic import write_csv
from base.errors import ArgumentParser, UserError, exit_on_user_error
from base.run_dir import newest, setup_logging
from data_loader.layout import data_root, read_eval
from data_loader.verify import check_images
from model.metric import validation_metrics
from model.tta import VIEWS
from predict import predictor
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
                    "k-fold groups) without and with TTA; writes nothing")
    ap.add_argument("--checkpoint", choices=("best", "last"), help="which weights (default: each run's config)")
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
    if args.answers and not args.answers.is_file():
        raise UserError(f"--answers {args.answers} not found; give a csv with columns ImageID,ans or leave it out")


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    log = setup_logging()
    runs = args.run or [newest(config_lib.load().runs_dir)]
    probs_path = args.probs or args.out.with_name(args.out.stem + "_probs.csv")
    check_args(args, runs, probs_path)
    changes = {knob: value for knob, value in (("data_dir", args.data_dir), ("inference_batch_size", args.batch_size),
               ("device", args.device), ("checkpoint", args.checkpoint)) if value is not None}
    models = [predictor.load(run, changes) for run in runs]
    tta = models[0].cfg.tta if args.tta is None else [v.strip() for v in args.tta.split(",") if v.strip()]
    tta = [v for v in tta if v != "none"]
    for view in tta:  # an unknown name fails before the eval images are read
        VIEWS.get(view)
    if args.evaluate:
        return evaluate(models, args.weights, tta, log)
    root = data_root(models[0].cfg)
    table = check_images(read_eval(root), "eval")
    started = time.perf_counter()
    probs = predictor.combine_probabilities([m.predict(table, tta) for m in models], "mean", args.weights)
    seconds = time.perf_counter() - started
    submission = write_submission(root / "eval" / "info.csv", table["ImageID"], probs.argmax(1), args.out)
    write_csv(probs_path, pd.concat([table[["ImageID"]], pd.DataFrame(probs, columns=[f"p{c}" for c in range(18)])],
                                    axis=1))
    views = f" x {len(tta) + 1} TTA views" if tta else ""
    log.info(f"wrote {args.out} ({len(submission)} rows) and {probs_path} from {len(models)} model folder(s){views} "
             f"in {seconds:.1f}s ({len(table) * len(models) * (len(tta) + 1) / seconds:.0f} images/s)")
    answers = args.answers or (root / "eval" / "answers.csv")
    result = {"rows": len(submission)}
    if args.answers or answers.is_file():
        result.update(score(submission, answers))
        log.info(f"score against {answers}: macro F1 {result['f1']:.4f} (mask {result['f1_mask']:.3f} "
                 f"gender {result['f1_gender']:.3f} age {result['f1_age']:.3f})")
    return result


def evaluate(models: list, weights: list[float] | None, tta: list[str], log) -> dict:
    """Validation macro F1 of the (ensembled) runs, without TTA and with the given views."""
    result = {}
    for label, views in [("no TTA", [])] + ([(f"TTA {'+'.join(tta)}", tta)] if tta else []):
        table, probs = predictor.ensemble_validation([m.validation(views) for m in models], "mean", weights)
        row = validation_metrics(probs, table)
        result[label] = row
        log.info(f"validation ({len(table)} images, {label}): macro F1 {row['val_f1']:.4f} (mask "
                 f"{row['val_f1_mask']:.3f} gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f} "
                 f">=60 {row['val_f1_60plus']:.3f})")
    return result


if __name__ == "__main__":
    main()
