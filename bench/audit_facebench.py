"""The label-noise audit against known wrong labels: a facebench build lists the persons whose
gender or incorrect_mask/normal labels were corrupted on purpose (train/label_noise.csv).

    python bench/audit_facebench.py --data FACEBENCH_BUILD [--set knob=value ...]

Trains a k-fold group (default 3 folds, 6 epochs of resnet10t at 64x64, from scratch) for the
out-of-fold probabilities, runs `python -m data_loader.audit` on it, and prints, for each kind of
noise the build plants, the audit's precision and recall at each confidence cut-off and among its
N most confident suspects (N = the number planted: what a user checking the top of the list sees).
With `--set runs_dir=DIR` the group is kept there; otherwise it lives in a temporary folder.
"""
from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from variants import parse_args, train  # puts the project on sys.path

from data_loader import audit  # noqa: E402

KINDS = {"gender": "gender", "mask": "incorrect_mask<->normal"}
DEFAULTS = ["kfold=True", "folds=3", "epochs=6", "backbone=resnet10t", "image_size=64,64", "plots=False"]


def main() -> None:
    common = parse_args(__doc__)
    knob = {o.split("=", 1)[0]: o.split("=", 1)[1] for o in common}
    if "data_dir" not in knob:
        raise SystemExit("give --data: a facebench build with train/label_noise.csv")
    planted = pd.read_csv(Path(knob["data_dir"]) / "train" / "label_noise.csv", dtype={"id": str})
    kept_runs = knob.get("runs_dir", "").strip("'\"")
    with nullcontext(kept_runs) if kept_runs else tempfile.TemporaryDirectory() as runs:
        before = set(Path(runs).glob("*")) if Path(runs).exists() else set()
        train([*DEFAULTS, *common, f"runs_dir={str(Path(runs))!r}"])
        (group,) = set(Path(runs).glob("*")) - before
        found = audit.suspects(pd.read_csv(group / "oof.csv", dtype={"person": str}), min_confidence=0.0)
    kinds = ", ".join(f"{k}: {v}" for k, v in planted["kind"].value_counts().items())
    print(f"{len(planted)} planted wrong labels ({kinds}); audit of {group.name}")
    print("| kind | suspects | right | precision | recall |")
    print("|---|---|---|---|---|")
    for field, kind in KINDS.items():
        truth = set(planted.loc[planted["kind"] == kind, "id"])
        mine = found[found["field"] == field]  # ranked, most confident first
        cuts = [(f"confidence >= {c}", mine[mine["confidence"] >= c]) for c in (0.0, 0.5, 0.7, 0.9)]
        for label, kept in [*cuts, (f"top {len(truth)}", mine.head(len(truth)))]:
            right = int(kept["id"].isin(truth).sum())
            precision = right / len(kept) if len(kept) else float("nan")
            print(f"| {field}, {label} | {len(kept)} | {right} | {precision:.2f} | "
                  f"{right / len(truth) if truth else float('nan'):.2f} |")


if __name__ == "__main__":
    main()
