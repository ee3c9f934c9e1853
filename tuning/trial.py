"""One trial: the base config plus what space(trial) returns, trained as an ordinary run in
<study>/trial-NNNN/, every epoch's monitored value reported to the pruner. Trial 0 is the base
config itself (queued when the study is made, never pruned), so a study's best is never worse
than it on the study's own metric.

A pruned trial stops through BaseTrainer.stop(): the epoch ends as usual (metrics.csv, best.pt,
last.pt, pictures, summary.json), so its folder is a complete run that stopped early, and
`inference.py --run`, the report and ensembles take it like any other. Run groups (k-fold,
pseudo-labels, separate models) train members one after another, whose epochs are no single
trial's steps: they are not pruned and report their group's validation once, at the end.
"""
from __future__ import annotations

import json
import math
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from base.callbacks import Callback
from base.errors import UserError
from group import build
from tuning import space as space_lib
from tuning.study_dir import Settings, trial_folder

BASE = "base_config"  # the user attribute of trial 0, the study's base config: "space" (its suggestions
# reproduce it) or "config" (outside the space: the config as it is, space() not asked)
ENDED = "ended"  # the user attribute saying how the trial itself ended: "complete", "pruned" or "fail"; a trial
# stopped from outside (Ctrl-C, a killed tuner, a dead machine) has none, and runs again


@dataclass
class Outcome:
    state: str            # "complete", "pruned" or "fail"
    value: float          # the best monitored value (nan for a failed trial)
    reason: str = ""      # a failed trial's one line; a pruned one's when and why
    monitor: str = "val_f1"


class PruningReporter(Callback):
    """Reports each epoch's monitored value; stops the run when the pruner says so."""

    def __init__(self, trial, monitor: str):
        self.trial, self.monitor = trial, monitor

    def on_epoch_end(self, trainer, row: dict, improved: bool, val_probs) -> None:
        value = float(row[self.monitor])
        self.trial.report(value, step=int(row["epoch"]))
        last = row["epoch"] >= min(trainer.cfg.epochs, trainer.updater.schedule.epochs)  # ends anyway: complete
        if not last and not self.trial.user_attrs.get(BASE) and self.trial.should_prune():  # the base runs in full
            trainer.stop(f"pruned by the tuner at epoch {row['epoch']} ({self.monitor} {value:.4f})")


def run(trial, space, settings: Settings, study_dir: Path) -> Outcome:
    """Train trial `trial` (an Optuna trial); never raises for a trial's own failure."""
    folder = trial_folder(study_dir, trial.number)
    trial.set_user_attr("folder", folder.name)
    trial.set_user_attr("host", socket.gethostname())
    started = time.perf_counter()
    try:
        if trial.user_attrs.get(BASE) == "config":  # so no study ends worse than the config it started from
            cfg, knobs = settings.base_config, {}
        else:
            cfg, knobs = space_lib.trial_config(space, trial, settings.base_config, where=f"trial {trial.number}")
        trial.set_user_attr("knobs", json.loads(json.dumps(knobs)))
        changes = {"runs_dir": str(study_dir), "name": folder.name}
        if settings.trial_minutes:
            changes["time_limit_minutes"] = settings.trial_minutes
        cfg = cfg.replace(**changes)
        trainer = build(cfg)
        monitor = trainer.monitor.metric  # a run group's: its own validation row's
        if hasattr(trainer, "extra_callbacks"):
            trainer.extra_callbacks.append(PruningReporter(trial, monitor))
        best = trainer.fit(folder)
        value = float(best.get(monitor, math.nan))
        stopped = getattr(trainer, "stop_reason", None)
        trial.set_user_attr("epochs", len(getattr(trainer, "history", [])) or None)  # None: a run group
        trial.set_user_attr("best_epoch", best.get("epoch"))
        outcome = Outcome("pruned" if stopped else "complete", value, stopped or "", monitor)
    except UserError as error:
        outcome = Outcome("fail", math.nan, str(error))
    except Exception as error:  # a bug or a crash inside one trial: keep it, go on with the study
        outcome = Outcome("fail", math.nan, f"{type(error).__name__}: {error}".splitlines()[0])
        where = folder if folder.is_dir() else study_dir
        (where / f"{folder.name}-error.txt" if where == study_dir else where / "error.txt").write_text(
            traceback.format_exc())
    trial.set_user_attr("minutes", (time.perf_counter() - started) / 60)
    trial.set_user_attr("reason", outcome.reason)
    trial.set_user_attr(ENDED, outcome.state)
    trial.set_user_attr("best_value", None if math.isnan(outcome.value) else outcome.value)
    return outcome
