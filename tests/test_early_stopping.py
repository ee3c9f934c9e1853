"""Early stopping: `patience` epochs without an epoch that beats the best by more than `min_delta`."""
from __future__ import annotations

import math

import pandas as pd

import train
from base.monitor import Monitor


def _rows(values):
    return [{"val_f1": v} for v in values]


def test_a_gain_of_min_delta_or_less_is_not_progress():
    history = _rows([0.50, 0.505, 0.509, 0.52])
    assert Monitor("val_f1", "max").stale(history) == 0  # every epoch a little better
    assert Monitor("val_f1", "max", 0.01).stale(history[:3]) == 2  # +0.005, +0.009: not enough
    assert Monitor("val_f1", "max", 0.01).stale(history) == 0  # 0.52 beats 0.50 by 0.02
    losses = _rows([1.0, 0.95, 0.949, 0.9])
    assert Monitor("val_f1", "min", 0.02).stale(losses) == 0
    assert Monitor("val_f1", "min", 0.02).stale(losses[:3]) == 1  # 0.95 beat 1.0 by 0.05, 0.949 not
    assert Monitor("val_f1", "min", 0.06).stale(losses[:3]) == 2
    assert Monitor("val_f1", "max").stale(_rows([0.5, math.nan, 0.4])) == 2  # a diverged epoch is no progress


def test_patience_with_min_delta_stops_the_run(tiny_overrides, tmp_path, capsys):
    train.main([*tiny_overrides, "epochs=4", "patience=1", "min_delta=1.0"])  # nothing beats F1 by a whole point
    (run,) = (tmp_path / "runs").iterdir()
    assert len(pd.read_csv(run / "metrics.csv")) == 2
    assert "early stop: no better val_f1 for 1 epochs (better: by more than min_delta 1)" in capsys.readouterr().err
