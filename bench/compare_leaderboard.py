"""What the leaderboard tricks add, scored on the eval answers (the demo data has them):
one run, a 5-fold ensemble, + flip TTA, + one pseudo-label round (trained on the train split
and the eval images the 5-fold ensemble labels with >= pseudo_threshold confidence).

    python bench/compare_leaderboard.py [--data DIR] [--set knob=value ...]

--data needs an eval/answers.csv (the demo data and a facebench build have one).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from variants import ROOT, parse_args, train  # puts the project on sys.path

from base import config as config_lib  # noqa: E402
from data_loader.layout import data_root  # noqa: E402
from predict.submission import score as score_submission  # noqa: E402


def main() -> None:
    common = parse_args(__doc__)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"

        def fit(*knobs: str) -> Path:
            before = set(runs.glob("*")) if runs.exists() else set()
            train([*common, f"runs_dir={str(runs)!r}", *knobs])
            (new,) = set(runs.glob("*")) - before
            return new

        def score(label: str, run: Path, *args: str) -> None:
            out = Path(tmp) / "submission.csv"  # as users run it
            subprocess.run([sys.executable, str(ROOT / "inference.py"), "--run", str(run), "--out", str(out), *args],
                           check=True)
            answers = data_root(config_lib.load(None, common)) / "eval" / "answers.csv"
            rows.append((label, score_submission(pd.read_csv(out, dtype={"ImageID": str}), answers)))

        single = fit("name=single")
        score("one run", single)
        kfold = fit("name=kfold", "kfold=True", "folds=5")
        score("5-fold ensemble", kfold)
        score("5-fold ensemble + flip TTA", kfold, "--tta", "flip")
        pseudo = fit("name=pseudo", f"pseudo_from=[{str(kfold)!r}]")
        score("one pseudo-label round (labelled by the 5-fold ensemble) + flip TTA", pseudo, "--tta", "flip")
        kept = len((pseudo / "round1" / "pseudo_labels.csv").read_text().splitlines()) - 1
    print("| on the eval answers | macro F1 (18) | mask | gender | age | >=60 |")
    print("|---|---|---|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r['f1']:.4f} | {r['f1_mask']:.4f} | {r['f1_gender']:.4f} | {r['f1_age']:.4f} "
              f"| {r['f1_60plus']:.4f} |")
    print(f"pseudo-labelled eval images kept: {kept}")


if __name__ == "__main__":
    main()
