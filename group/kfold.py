"""K-fold training: one run per person-grouped fold, into one group that averages them.

    runs/<name>-<time>/  config.json, group.json, oof.csv, metrics.csv (out-of-fold scores)
        fold0/ fold1/ ...   ordinary runs (or groups), fold k validated on the persons of fold k

Each fold's model predicts the persons it never saw (its oof.csv); together they cover the
training set once, so the out-of-fold macro F1 scores every training image. `kfold_folds`
trains some folds only (one machine each); copy the fold folders into one group folder and
`--resume` it to fill in the rest and score them all.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from base.atomic import write_csv
from base.config import Config
from base.errors import UserError
from data_loader.split import load_table, split
from group.registry import register_group
from group.run_group import RunGroup
from predict import predictor

OOF_COLUMNS = ("file", "person", "stem", "fold", "mask", "gender", "age", "label", "official_label")


def oof_frame(table: pd.DataFrame, fold: int, probs: np.ndarray) -> pd.DataFrame:
    """A fold's validation rows with their 18 class probabilities p0..p17."""
    frame = table.assign(fold=fold)[list(OOF_COLUMNS)].reset_index(drop=True)
    return pd.concat([frame, pd.DataFrame(probs, columns=[f"p{c}" for c in range(probs.shape[1])])], axis=1)


@register_group("kfold")
class KFold(RunGroup):
    kind = "kfold"
    combine = "mean"

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        stray = [k for k in cfg.kfold_folds if not 0 <= k < cfg.folds]
        if stray:
            raise UserError(f"config knob 'kfold_folds': {stray} outside 0..{cfg.folds - 1} (folds={cfg.folds})")

    def plan(self) -> list[str]:
        return [f"fold{k}" for k in (self.cfg.kfold_folds or range(self.cfg.folds))]

    def predicting_members(self) -> list[str]:
        return self.plan()

    def member_config(self, name: str, group: Path) -> Config:
        return self.cfg.replace(kfold=False, kfold_folds=[], fold=int(name.removeprefix("fold")), name=name)

    def validation(self, group: Path) -> tuple[pd.DataFrame, np.ndarray]:
        """Out of fold: every trained fold's model on its own held-out persons."""
        table, fold_of = load_table(self.cfg)
        parts = []
        for name in sorted(p.name for p in group.glob("fold*") if (p / "config.json").is_file()):
            k = int(name.removeprefix("fold"))
            _, held_out = split(table, fold_of, k)
            probs = predictor.load(group / name).predict(held_out)
            parts.append(oof_frame(held_out, k, probs))
            write_csv(group / name / "oof.csv", parts[-1])
        oof = pd.concat(parts, ignore_index=True)
        write_csv(group / "oof.csv", oof)
        return oof, oof[[f"p{c}" for c in range(18)]].to_numpy()
