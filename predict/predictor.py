"""Folders that predict: a run (one model) or a run group (its members combined).

Either way the answer is (N, 18) class probabilities in table order, so inference, group
validation and ensembles treat every kind of model alike. A run group folder holds group.json
(base/group_file.py): its members and how they combine, "product" for models of different
attributes (mask x gender x age), "mean" for models of one target.
`validation()` predicts what a folder was validated on: a run's held-out persons, a k-fold
group's out-of-fold predictions, another group's shared validation persons.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from base import config as config_lib
from base.device import select_device
from base.errors import UserError
from base.group_file import GROUP_FILE
from base.run_dir import setup_logging
from base.update import native_bf16
from logger import val_probs
from trainer import get_trainer  # the package: every trainer registered


def combine_probabilities(probs: list[np.ndarray], how: str, weights: Sequence[float] | None = None) -> np.ndarray:
    """Rows of several (N, 18) tables made into one: their normalised product, or their (weighted) mean."""
    if how == "product":
        log = sum(np.log(np.clip(p, 1e-12, None)) for p in probs)
        joint = np.exp(log - log.max(axis=1, keepdims=True))
        return joint / joint.sum(axis=1, keepdims=True)
    return np.average(np.stack(probs), axis=0, weights=weights)


def runnable_amp(amp: str, device: torch.device) -> tuple[str, str | None]:
    """The precision to predict in on `device`: the run's `amp`, or where this device cannot run
    it (fp16 on a CPU, bf16 on a GPU without it) the nearest one it can, with a note for the log.
    Predictions then differ from the run's validation in the last digits only."""
    if amp == "fp16" and device.type != "cuda":
        return "off", f"trained with amp=fp16, which needs CUDA; predicting on {device} in float32"
    if amp == "bf16" and device.type == "cuda" and not native_bf16():
        return "fp16", "trained with amp=bf16, which this GPU does not compute natively; predicting in fp16"
    return amp, None


class RunPredictor:
    """One trained run: its trainer, with the weights of its configured checkpoint."""

    def __init__(self, run: Path, changes: dict):
        self.run = run
        saved = config_lib.read_saved(run / "config.json")
        self.own_data = changes.get("data_dir", saved.get("data_dir")) == saved.get("data_dir")
        # The checkpoint brings the weights: never download or read the backbone's own.
        values = {**saved, "pretrained": False, "weights_file": "", **changes}
        self.cfg = config_lib.from_dict(values, source=str(run / "config.json"))
        amp, note = runnable_amp(self.cfg.amp, select_device(self.cfg.device))
        if note:
            setup_logging().info(f"{run}: {note}")
            self.cfg = self.cfg.replace(amp=amp)
        self.trainer = get_trainer(self.cfg.trainer)(self.cfg)
        self.checkpoint = run / f"{self.cfg.checkpoint}.pt"
        if self.cfg.checkpoint == "averaged" and not self.checkpoint.is_file():
            raise UserError(f"{run}: no averaged.pt; it is written by training with average_last = K "
                            "(K epochs averaged), or pick --checkpoint best")
        self.trainer.load_weights(self.checkpoint, for_inference=True)

    def predict(self, table: pd.DataFrame, tta: Sequence[str] = ()) -> np.ndarray:
        return self.trainer.predict(self.trainer.loader(table, train=False), tta=tta)[0]

    def validation(self, tta: Sequence[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
        """The run's validation pictures and their probabilities: best.pt's without TTA, on the
        run's own data folder, are the ones training stored (val_probs.csv); anything else is
        predicted now."""
        from data_loader.layout import data_root
        from data_loader.split import load_split

        _, table, _ = load_split(self.cfg)
        stored = val_probs.read(self.run, table, data_root(self.cfg)) \
            if not tta and self.cfg.checkpoint == "best" and self.own_data else None
        return table, stored if stored is not None else self.predict(table, tta)


class GroupPredictor:
    """A run group: every member predicts, the group combines."""

    def __init__(self, group: Path, changes: dict):
        spec = json.loads((group / GROUP_FILE).read_text())
        self.kind, self.how = spec.get("kind", "group"), spec["combine"]
        self.members = [load(group / m, changes) for m in spec["members"]]
        self.cfg = self.members[0].cfg
        self.checkpoint = group

    def predict(self, table: pd.DataFrame, tta: Sequence[str] = ()) -> np.ndarray:
        return combine_probabilities([m.predict(table, tta) for m in self.members], self.how)

    def validation(self, tta: Sequence[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
        parts = [m.validation(tta) for m in self.members]
        if self.kind == "kfold":  # each fold on its own held-out persons: out of fold
            return (pd.concat([t for t, _ in parts], ignore_index=True), np.concatenate([p for _, p in parts]))
        return ensemble_validation(parts, self.how)


class DifferentValidation(UserError):
    """Runs asked to be combined on validation were validated on different pictures."""


def ensemble_validation(parts: list[tuple[pd.DataFrame, np.ndarray]], how: str = "mean",
                        weights: Sequence[float] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Combine validation predictions on the pictures every model held out: all of them for runs
    of one split; for, say, a k-fold group (out of fold: every person) beside a run of one fold,
    that fold's persons, and a log line says how many. DifferentValidation when none are shared."""
    shared = set.intersection(*(set(table["file"]) for table, _ in parts))
    if not shared:
        raise DifferentValidation("these runs share no validation persons (another seed, fold or data); "
                                  "evaluate them one at a time, or ensemble runs of one split")
    first = parts[0][0]
    table = first[first["file"].isin(shared)].reset_index(drop=True)
    if any(len(other) != len(shared) for other, _ in parts):
        logging.getLogger("mask18").info(
            f"validation: {len(table)} pictures of {table['person'].nunique()} persons were held out by every run "
            f"(the runs held out {', '.join(str(len(other)) for other, _ in parts)}); scored on those")
    order = table["file"].to_numpy()
    aligned = [pd.DataFrame(probs, index=other["file"].to_numpy()).loc[order].to_numpy() for other, probs in parts]
    return table, combine_probabilities(aligned, how, weights)


def load(folder: Path, changes: dict | None = None) -> RunPredictor | GroupPredictor:
    """The predictor of a run folder or a run-group folder; `changes` override saved knobs."""
    folder = Path(folder)
    if (folder / GROUP_FILE).is_file():
        return GroupPredictor(folder, changes or {})
    if (folder / "config.json").is_file():
        return RunPredictor(folder, changes or {})
    raise UserError(f"{folder}: no config.json there; pass a run folder made by train.py")
