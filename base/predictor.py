"""Folders that predict: a run (one model) or a run group (its members combined).

Either way the answer is (N, 18) class probabilities in table order, so inference, group
validation and (later) ensembles treat every kind of model alike. A run group folder holds
group.json: {"combine": "product" | "mean", "members": [sub-folders]}. "product" is for models
of different attributes (mask x gender x age); "mean" averages models of the same target.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from base import config as config_lib
from base.atomic import write_text
from base.errors import UserError

GROUP_FILE = "group.json"


def write_group(folder: Path, combine: str, members: list[str]) -> None:
    write_text(folder / GROUP_FILE, json.dumps({"combine": combine, "members": members}, indent=2) + "\n")


def combine_probabilities(probs: list[np.ndarray], how: str) -> np.ndarray:
    """Rows of several (N, 18) tables made into one: their normalised product, or their mean."""
    if how == "product":
        log = sum(np.log(np.clip(p, 1e-12, None)) for p in probs)
        joint = np.exp(log - log.max(axis=1, keepdims=True))
        return joint / joint.sum(axis=1, keepdims=True)
    return np.mean(probs, axis=0)


class RunPredictor:
    """One trained run: its trainer, with the weights of its configured checkpoint."""

    def __init__(self, run: Path, changes: dict):
        from trainer import get_trainer  # trainers build on base/, so look them up late

        saved = json.loads((run / "config.json").read_text())
        # The checkpoint brings the weights: never download or read the backbone's own.
        values = {**saved, "pretrained": False, "weights_file": "", **changes}
        self.cfg = config_lib.from_dict(values, source=str(run / "config.json"))
        self.trainer = get_trainer(self.cfg.trainer)(self.cfg)
        self.checkpoint = run / f"{self.cfg.checkpoint}.pt"
        self.trainer.load_weights(self.checkpoint)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return self.trainer.predict(self.trainer.loader(table, train=False))[0]


class GroupPredictor:
    """A run group: every member predicts, the group combines."""

    def __init__(self, group: Path, changes: dict):
        spec = json.loads((group / GROUP_FILE).read_text())
        self.how = spec["combine"]
        self.members = [load(group / m, changes) for m in spec["members"]]
        self.cfg = self.members[0].cfg
        self.checkpoint = group

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return combine_probabilities([m.predict(table) for m in self.members], self.how)


def load(folder: Path, changes: dict | None = None) -> RunPredictor | GroupPredictor:
    """The predictor of a run folder or a run-group folder; `changes` override saved knobs."""
    folder = Path(folder)
    if (folder / GROUP_FILE).is_file():
        return GroupPredictor(folder, changes or {})
    if (folder / "config.json").is_file():
        return RunPredictor(folder, changes or {})
    raise UserError(f"{folder}: no config.json there; pass a run folder made by train.py")
