"""What a run records per epoch: metrics.csv's columns, the metric it monitors, which epoch is best.

Validation metrics score the official age groups; the *_train_labels columns score the
configured age_thresholds. The monitored metric (the `monitor` knob, or the trainer's default)
picks best.pt, drives early stopping and the plateau schedule, in the direction of
`monitor_mode`.
"""
from __future__ import annotations

import math

from base.errors import UserError

METRICS = ("epoch", "lr", "train_loss", "train_f1", "val_loss", "val_f1", "val_acc",
           "val_f1_mask", "val_f1_gender", "val_f1_age", "val_f1_60plus", "val_f1_train_labels",
           "val_f1_age_train_labels", "seconds")
MONITORABLE = METRICS[2:-1]  # the scores, not the epoch, lr or time


def monitored(knob: str, default: str) -> str:
    """The metric the `monitor` knob names ("auto": the trainer's `default`); a typo fails now."""
    name = default if knob == "auto" else knob
    if name not in MONITORABLE:
        raise UserError(f"config knob 'monitor': {knob!r} is not a metric; use auto or one of "
                        + ", ".join(MONITORABLE))
    return name


def improves(value: float, best: float | None, mode: str) -> bool:
    """Whether `value` beats `best` (None: nothing yet) in the direction of `monitor_mode`."""
    return best is None or (value > best if mode == "max" else value < best)


def stale_epochs(history: list[dict], key: str, mode: str, min_delta: float = 0.0) -> int:
    """Epochs since the last one that beat the best before it by more than `min_delta` (early
    stopping's count, as Lightning's EarlyStopping keeps it): a gain of min_delta or less is
    not progress, though best.pt still takes it."""
    best, stale = None, 0
    for row in history:
        value = row[key]
        if best is None or (value - best if mode == "max" else best - value) > min_delta:
            best, stale = value, 0
        else:
            stale += 1
    return stale


def early_stop_line(monitor: str, patience: int, min_delta: float) -> str:
    better = f" (better: by more than min_delta {min_delta:g})" if min_delta else ""
    return f"early stop: no better {monitor} for {patience} epochs{better}"


def best_row(history: list[dict], key: str, mode: str) -> dict:
    """The metrics row of the best epoch by `key`; before any epoch a row of NaNs at epoch 0."""
    if not history:
        return {key: math.nan, "epoch": 0, "val_f1": math.nan}
    return (max if mode == "max" else min)(history, key=lambda r: r[key])


def scores(row: dict) -> str:
    """A row's validation scores as the log shows them."""
    return (f"val_loss {row['val_loss']:.4f}  val_f1 {row['val_f1']:.4f}  (mask {row['val_f1_mask']:.3f} "
            f"gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f})")
