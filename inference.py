"""Predict the eval images with a trained run and write submission.csv.

    python inference.py                          # newest run in runs/, its best.pt
    python inference.py --run runs/x-20260101-120000 --out submissions/x.csv
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from base import config as config_lib
from base import predictor
from base.errors import exit_on_user_error
from base.run_dir import newest, setup_logging
from base.submission import score, write_submission
from data_loader.layout import data_root, read_eval
from data_loader.verify import check_images


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="run folder made by train.py (default: the newest in runs/)")
    ap.add_argument("--checkpoint", choices=("best", "last"), help="which weights (default: the run's config)")
    ap.add_argument("--data-dir", help="predict this data folder's eval/ instead of the run's data_dir")
    ap.add_argument("--out", type=Path, default=Path("submission.csv"), help="where to write (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, help="images per batch (default: inference_batch_size)")
    ap.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: the run's)")
    ap.add_argument("--answers", type=Path, help="score against an answers csv (ImageID,ans); "
                    "default: eval/answers.csv when the data folder has one (the demo data does)")
    return ap.parse_args(argv)


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    log = setup_logging()
    run = args.run or newest(config_lib.load().runs_dir)
    changes = {knob: value for knob, value in (("data_dir", args.data_dir), ("inference_batch_size", args.batch_size),
               ("device", args.device), ("checkpoint", args.checkpoint)) if value is not None}
    model = predictor.load(run, changes)
    root = data_root(model.cfg)
    table = check_images(read_eval(root), "eval")
    started = time.perf_counter()
    probs = model.predict(table)
    seconds = time.perf_counter() - started
    submission = write_submission(root / "eval" / "info.csv", table["ImageID"], probs.argmax(1), args.out)
    log.info(f"wrote {args.out} ({len(submission)} rows) from {model.checkpoint} "
             f"in {seconds:.1f}s ({len(table) / seconds:.0f} images/s)")
    answers = args.answers or (root / "eval" / "answers.csv")
    result = {"rows": len(submission)}
    if args.answers or answers.is_file():
        result.update(score(submission, answers))
        log.info(f"score against {answers}: macro F1 {result['f1']:.4f} (mask {result['f1_mask']:.3f} "
                 f"gender {result['f1_gender']:.3f} age {result['f1_age']:.3f})")
    return result


if __name__ == "__main__":
    main()
