"""The monitor: one object says which column judges a run or a run group and what "better" means
there, for best.pt, early stopping, the report and the tuner alike."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from base import config as config_lib
from base.errors import UserError
from base.monitor import Monitor, MonitoredGroup
from base.optim import Schedule
from group.registry import runner
from model.metric import validation_metrics
from trainer import get_trainer
from trainer.single_head import SingleHeadTrainer


def _cfg(**knobs) -> config_lib.Config:
    return config_lib.load().replace(**knobs)


def _of(**knobs) -> Monitor:
    cfg = _cfg(**knobs)
    return Monitor.of(cfg, runner(cfg))


def _rows(values) -> list[dict]:
    return [{"epoch": e + 1, "val_f1": v} for e, v in enumerate(values)]


def test_auto_is_what_the_trainer_says():
    assert _of() == Monitor("val_f1", "max", 0.0)
    assert _of(trainer="multihead").metric == "val_f1"
    assert _of(trainer="attribute", task="gender").metric == "val_f1_gender"
    assert _of(trainer="attribute", task="age", monitor_mode="min", min_delta=0.01) == \
        Monitor("val_f1_age", "min", 0.01)


class MonitorsItsMask(SingleHeadTrainer):
    @classmethod
    def auto_monitor(cls, cfg) -> str:
        return "val_f1_mask"


def test_a_trainer_subclass_says_what_auto_means_in_one_hook():
    assert Monitor.of(_cfg(), MonitorsItsMask).metric == "val_f1_mask"
    assert Monitor.of(_cfg(monitor="val_loss", monitor_mode="min"), MonitorsItsMask) == Monitor("val_loss", "min")
    assert "auto_monitor" not in vars(get_trainer("single")) and get_trainer("single").auto_monitor(_cfg()) == "val_f1"


def test_an_explicit_monitor_and_a_typo():
    assert _of(monitor="val_loss", monitor_mode="min") == Monitor("val_loss", "min")
    assert str(_of(monitor="val_loss", monitor_mode="min")) == "val_loss (min)"
    with pytest.raises(UserError, match=r"^config knob 'monitor': 'val_f2' is not a metric; use auto or one of"):
        _of(monitor="val_f2")


def test_a_group_is_judged_by_its_validation_row():
    for knobs in ({"kfold": True}, {"trainer": "separate"}, {"kfold": True, "trainer": "attribute", "task": "mask"}):
        assert _of(**knobs) == Monitor("val_f1", "max"), knobs
    assert _of(kfold=True, monitor="val_f1_mask") == Monitor("val_f1_mask", "max")
    # the row has no loss: the members monitor it, the group is judged by val_f1, higher better
    assert _of(kfold=True, monitor="val_loss", monitor_mode="min") == Monitor("val_f1", "max")
    assert _of(pseudo_from=["runs/x"], monitor="train_loss", monitor_mode="min") == Monitor("val_f1", "max")


def test_a_groups_row_is_what_validation_metrics_writes():
    labels = np.arange(18)
    table = pd.DataFrame({"official_label": labels, "label": labels})
    assert tuple(validation_metrics(np.eye(18), table)) == MonitoredGroup.monitorable


def test_separate_models_keep_their_own_best_epoch_under_an_18_class_metric():
    for monitor, member in (("auto", "auto"), ("val_f1", "auto"), ("val_acc", "auto"),
                            ("val_f1_train_labels", "auto"), ("val_f1_mask", "val_f1_mask"), ("val_loss", "val_loss")):
        cfg = _cfg(trainer="separate", monitor=monitor)
        assert runner(cfg)(cfg).member_config("gender", Path()).monitor == member, monitor


def test_max_and_min():
    high, low = Monitor("val_f1", "max"), Monitor("val_f1", "min")
    assert high.better(0.6, 0.5) and not high.better(0.5, 0.5) and not high.better(0.4, 0.5)
    assert low.better(0.4, 0.5) and not low.better(0.5, 0.5) and not low.better(0.6, 0.5)
    assert high.better(0.0, None) and low.better(1.0, None)  # the first epoch is the best so far
    history = _rows([0.5, 0.7, 0.3, 0.7, 0.3])
    assert high.best_row(history)["epoch"] == 2 and low.best_row(history)["epoch"] == 3  # the first of equals
    assert math.isnan(high.best_row([])["val_f1"]) and high.best_row([])["epoch"] == 0
    assert sorted([0.5, math.nan, 0.9], key=high.order)[:2] == [0.9, 0.5]  # NaN last
    assert sorted([0.5, math.nan, 0.9], key=low.order)[:2] == [0.5, 0.9]


def test_min_delta_counts_for_early_stopping_not_for_best_pt():
    monitor = Monitor("val_f1", "max", min_delta=0.01)
    history = _rows([0.50, 0.505, 0.509])
    assert monitor.best_row(history)["epoch"] == 3 and monitor.better(0.509, 0.505)
    assert monitor.stale(history) == 2
    assert Monitor("val_f1", "max").stale(history) == 0
    assert monitor.early_stop_line(2) == \
        "early stop: no better val_f1 for 2 epochs (better: by more than min_delta 0.01)"
    assert Monitor().early_stop_line(3) == "early stop: no better val_f1 for 3 epochs"


def test_a_nan_beats_nothing_and_falls_to_any_number():
    monitor = Monitor("val_f1", "max")
    assert not monitor.better(math.nan, 0.5) and not monitor.better(math.nan, math.nan)
    assert monitor.better(0.1, math.nan)
    assert monitor.better(math.nan, None)  # a first epoch that diverged still makes best.pt
    assert monitor.best_row(_rows([0.5, math.nan, 0.4]))["epoch"] == 1
    assert monitor.best_row(_rows([math.nan, 0.2, math.nan]))["epoch"] == 2
    assert monitor.best_row(_rows([math.nan, math.nan]))["epoch"] == 1
    assert monitor.stale(_rows([0.5, math.nan, 0.4])) == 2
    assert monitor.stale(_rows([math.nan, 0.2])) == 0
    assert sorted([math.nan, 0.1], key=monitor.order)[0] == 0.1



def test_the_plateau_schedule_asks_the_monitor_what_is_better():
    cfg = _cfg(lr=1.0, scheduler="plateau", plateau_patience=0, step_gamma=0.5, warmup_epochs=0.0)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    schedule = Schedule(opt, cfg, 1, Monitor("val_loss", "min"))
    lrs = []
    for loss in (1.0, 0.9, math.nan, 0.95):  # a lower loss is better; a NaN is skipped
        schedule.epoch_end(loss)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 0.5]
