"""The warm-up under each scheduler interval, and a schedule that continues exactly after a resume."""
import pytest
import torch
from torch import nn

from base import config as config_lib
from base.optim import Schedule

CFG = config_lib.load(overrides=["lr=1.0", "epochs=10", "scheduler='cosine'", "scheduler_interval='epoch'"])
UPDATES = 4  # per epoch


def _schedule(cfg) -> tuple[torch.optim.Optimizer, Schedule]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    return opt, Schedule(opt, cfg, UPDATES)


def _lrs(opt, schedule, epochs) -> list[float]:
    """The lr of every update of `epochs` epochs."""
    out = []
    for _ in range(epochs):
        for _ in range(UPDATES):
            out.append(opt.param_groups[0]["lr"])
            schedule.update()
        schedule.epoch_end(None)
    return out


def test_epoch_interval_warms_up_in_epoch_one_then_starts_the_cosine_at_full_lr():
    lrs = _lrs(*_schedule(CFG.replace(warmup_epochs=1.0)), CFG.epochs)
    per_epoch = lrs[::UPDATES]  # what metrics.csv records: the lr at each epoch's start
    assert per_epoch[0] < 1.0 and lrs[:UPDATES] == pytest.approx([0.25, 0.5, 0.75, 1.0])  # the warm-up
    assert per_epoch[1] == 1.0  # the cosine starts at the full lr in epoch 2
    assert all(a > b for a, b in zip(per_epoch[1:], per_epoch[2:], strict=False)) and per_epoch[-1] < 0.05
    assert all(len(set(lrs[i:i + UPDATES])) == 1 for i in range(UPDATES, len(lrs), UPDATES))  # flat after it


def test_a_fractional_warmup_under_the_epoch_interval_is_kept():
    lrs = _lrs(*_schedule(CFG.replace(warmup_epochs=0.5)), 3)
    assert lrs[:UPDATES] == pytest.approx([0.5, 1.0, 1.0, 1.0])  # half an epoch of updates ramps up
    assert lrs[UPDATES] == 1.0 and lrs[2 * UPDATES] < 1.0  # then the per-epoch cosine


@pytest.mark.parametrize("interval", ["step", "epoch"])
@pytest.mark.parametrize("scheduler", ["cosine", "onecycle", "step", "plateau"])
def test_a_schedule_restored_inside_its_warmup_continues_bit_for_bit(interval, scheduler):
    cfg = CFG.replace(scheduler=scheduler, scheduler_interval=interval, warmup_epochs=1.5)
    opt, straight = _schedule(cfg)
    expected = _lrs(opt, straight, 4)
    opt, first = _schedule(cfg)
    lrs = _lrs(opt, first, 1)
    for _ in range(2):  # stopped two updates into epoch 2
        lrs.append(opt.param_groups[0]["lr"])
        first.update()
    opt, resumed = _schedule(cfg)
    resumed.load_state_dict(first.state_dict())
    for _ in range(2):
        lrs.append(opt.param_groups[0]["lr"])
        resumed.update()
    resumed.epoch_end(None)
    assert lrs + _lrs(opt, resumed, 2) == expected
