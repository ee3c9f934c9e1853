"""The monitor: which metrics.csv column judges a run or a run group, and what "better" means there.

One object decides it for training (best.pt, early stopping, the plateau schedule), for the run
report's ranking and for the tuner's objective, as timm's CheckpointSaver(decreasing=...) and
mmengine's CheckpointHook(save_best, rule) decide it for theirs:

    Monitor.of(cfg, runner)   the `monitor` knob in the direction of `monitor_mode`; runner is the
                              class that trains cfg, whose auto_monitor(cfg) says what "auto" means
    better(value, best)       any gain: what makes best.pt
    best_row(history)         the row best.pt holds
    stale(history)            early stopping's count: epochs since a gain of more than min_delta
    str(monitor)              "val_f1 (max)": what the logs, the report and the tuner call it

Trainers and run groups tell it the same two things (Monitored): what "auto" means, and which
columns their metrics.csv rows hold. A run group's metrics.csv is one validation row
(group/run_group.py), judged by the monitored column when the row has it, else by val_f1 (max).
A NaN (a diverged epoch) beats nothing, but the first epoch is the best so far whatever it is,
and any number beats a NaN best.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from base.epoch_metrics import MONITORABLE, VALIDATION
from base.errors import UserError

JOINT = ("val_f1", "val_acc", "val_f1_train_labels")  # the scores of the 18 classes together


class Monitored:
    """What a trainer or a run group tells the Monitor. A Trainer subclass overrides
    auto_monitor to say what monitor="auto" means for it; `monitorable` are the columns of its
    metrics.csv rows that may be monitored."""
    monitorable: tuple[str, ...] = MONITORABLE

    @classmethod
    def auto_monitor(cls, cfg: Mapping) -> str:
        """What monitor="auto" means under `cfg`, known before anything is built (the tuner asks)."""
        return "val_f1"


class MonitoredGroup(Monitored):
    """A run group: one row of validation scores, no loss, no training columns."""
    monitorable = VALIDATION


@dataclass(frozen=True)
class Monitor:
    metric: str = "val_f1"
    mode: str = "max"  # "max" or "min"
    min_delta: float = 0.0  # the gain early stopping asks more than; best.pt takes any gain

    @classmethod
    def of(cls, cfg: Mapping, runner: type[Monitored]) -> Monitor:
        """What a run of `cfg` (a Config or its config.json) by `runner` is judged by; a knob
        that names no metric is a UserError now."""
        knob = cfg["monitor"]
        metric = runner.auto_monitor(cfg) if knob == "auto" else knob
        if metric not in MONITORABLE:
            said = f"{knob!r} is not a metric" if knob != "auto" else f"'auto' means {metric!r} to {runner.__name__}"
            raise UserError(f"config knob 'monitor': {said}; use auto or one of " + ", ".join(MONITORABLE))
        if metric not in runner.monitorable:
            return cls("val_f1", "max", cfg["min_delta"])
        return cls(metric, cfg["monitor_mode"], cfg["min_delta"])

    def __str__(self) -> str:
        return f"{self.metric} ({self.mode})"

    @property
    def joint(self) -> bool:
        """Whether the metric scores the 18 classes together, saying nothing of one attribute."""
        return self.metric in JOINT

    def better(self, value: float, best: float | None) -> bool:
        """Whether `value` beats `best` (None: nothing yet) by any gain."""
        return self._beats(value, best, 0.0)

    def _beats(self, value: float, best: float | None, by: float) -> bool:
        if best is None:
            return True
        if math.isnan(value) or math.isnan(best):
            return not math.isnan(value)
        return (value - best if self.mode == "max" else best - value) > by

    def best_row(self, history: list[dict]) -> dict:
        """The metrics row of the best epoch, the first of equals; before any epoch a row of NaNs at epoch 0."""
        if not history:
            return {self.metric: math.nan, "epoch": 0, "val_f1": math.nan}
        best = history[0]
        for row in history[1:]:
            if self.better(row[self.metric], best[self.metric]):
                best = row
        return best

    def stale(self, history: list[dict]) -> int:
        """Epochs since the last one that beat the best before it by more than min_delta (as
        Lightning's EarlyStopping counts): a gain of min_delta or less is no progress, though
        best.pt still takes it."""
        best, stale = None, 0
        for row in history:
            if self._beats(row[self.metric], best, self.min_delta):
                best, stale = row[self.metric], 0
            else:
                stale += 1
        return stale

    def early_stop_line(self, patience: int) -> str:
        better = f" (better: by more than min_delta {self.min_delta:g})" if self.min_delta else ""
        return f"early stop: no better {self.metric} for {patience} epochs{better}"

    def order(self, value: float) -> tuple:
        """A sort key of values, best first, NaN last."""
        return math.isnan(value), 0 if math.isnan(value) else -value if self.mode == "max" else value
