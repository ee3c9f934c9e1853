"""The label-noise audit against known wrong labels: a facebench build lists the persons whose
gender or incorrect_mask/normal labels were corrupted on purpose (train/label_noise.csv).

    python bench/audit_facebench.py --data FACEBENCH_BUILD [--set knob=value ...]

Trains a k-fold group (default 3 folds, 6 epochs of resnet10t at 64x64, from scratch) for the
out-of-fold probabilities, runs `python -m data_loader.audit` on it, and prints its precision
and recall on the two kinds of noise the build plants, at each confidence cut-off.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from variants import parse_args  # puts the project on sys.path

import train  # noqa: E402
from data_loader import audit  # noqa: E402

KINDS = {"gender": "gender", "mask": "incorrect_mask<->normal"}
DEFAULTS = ["kfold=True", "folds=3", "epochs=6", "backbone=resnet10t", "image_size=64,64", "plots=False"]


def main() -> None:
    common = parse_args(__doc__)
    data = next((o.split("=", 1)[1] for o in common if o.startswith("data_dir=")), None)
    if data is None:
        raise SystemExit("give --data: a facebench build with train/label_noise.csv")
    planted = pd.read_csv(Path(data) / "train" / "label_noise.csv", dtype={"id": str})
    truth = {(r.id, r.kind) for r in planted.itertuples()}
    with tempfile.TemporaryDirectory() as tmp:
        train.main([a for o in [*DEFAULTS, *common, f"runs_dir={str(Path(tmp))!r}"] for a in ("--set", o)])
        (group,) = Path(tmp).iterdir()
        found = audit.suspects(pd.read_csv(group / "oof.csv", dtype={"person": str}), min_confidence=0.0)
    found = found[found["field"].isin(KINDS)]
    kinds = ", ".join(f"{k}: {v}" for k, v in planted["kind"].value_counts().items())
    print(f"{len(planted)} planted wrong labels ({kinds})")
    print("| confidence >= | suspects | right | precision | recall |")
    print("|---|---|---|---|---|")
    for cut in (0.0, 0.5, 0.7, 0.9):
        kept = found[found["confidence"] >= cut]
        right = sum((r.id, KINDS[r.field]) in truth for r in kept.itertuples())
        precision = right / len(kept) if len(kept) else float("nan")
        recall = right / len(truth) if truth else float("nan")
        print(f"| {cut} | {len(kept)} | {right} | {precision:.2f} | {recall:.2f} |")


if __name__ == "__main__":
    main()
