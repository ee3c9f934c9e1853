"""The training step never waits for the device: host transfers come every SYNC_EVERY steps."""
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from base.epoch_progress import SYNC_EVERY, EpochProgress
from base.errors import UserError
from trainer import get_trainer

ROOT = str(Path(__file__).resolve().parent.parent)
READS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")  # each makes the host wait


def _count_reads(monkeypatch) -> Counter:
    """Count the device reads made by the project's own code (torch's internals are not ours)."""
    calls = Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, _original=original, _name=name, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(ROOT) and "site-packages" not in caller and "/tests/" not in caller:
                calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    return calls


def _trainer(cfg):
    trainer = get_trainer(cfg.trainer)(cfg)
    table, _, _ = trainer.split_tables()
    loader = trainer.loader(table, train=True)
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()
    loader.set_epoch(1)
    return trainer, loader


@pytest.mark.parametrize("knobs", [{}, {"mix": "cutmix", "mix_prob": 1.0, "trainer": "multihead"}])
def test_host_reads_per_epoch_are_steps_over_sync_every(tiny_cfg, monkeypatch, knobs):
    trainer, loader = _trainer(tiny_cfg.replace(batch_size=4, **knobs))
    steps = len(loader)
    assert steps >= 3 * SYNC_EVERY
    calls = _count_reads(monkeypatch)
    progress = EpochProgress(1, lr=0.0)
    trainer.train_epoch(loader, progress)
    flushes = steps // SYNC_EVERY + 1  # every SYNC_EVERY steps and once at the end
    # per flush: the stacked losses (cpu, tolist), predictions, labels; per epoch: the sampler's draw (tolist x 2)
    assert sum(calls.values()) <= 4 * flushes + 2, calls
    assert sum(calls.values()) < steps  # the loop before this read the device 4 times a step
    assert progress.step == steps and progress.count == steps * 4


def test_totals_match_a_step_by_step_sum(tiny_cfg):
    trainer, loader = _trainer(tiny_cfg.replace(batch_size=4))
    progress = EpochProgress(1, lr=0.0)
    losses = []
    original = trainer.loss

    def recording(outputs, soft):
        loss = original(outputs, soft)
        losses.append(loss.item())
        return loss

    trainer.loss = recording
    trainer.train_epoch(loader, progress)
    expected = 0.0
    for loss in losses:  # the old per-step arithmetic: float loss x batch size, in step order
        expected += loss * 4
    assert progress.loss_sum == expected and progress.metrics()["train_loss"] == expected / (4 * len(losses))


def test_a_non_finite_loss_still_stops_with_one_line_naming_its_step(tiny_cfg):
    trainer, loader = _trainer(tiny_cfg.replace(batch_size=4))
    original, seen = trainer.loss, []

    def poisoned(outputs, soft):
        seen.append(1)
        loss = original(outputs, soft)
        return loss * float("nan") if len(seen) == 13 else loss

    trainer.loss = poisoned
    with pytest.raises(UserError, match=r"loss is nan at epoch 1 step 12; lower lr or check the data"):
        trainer.train_epoch(loader, EpochProgress(1, lr=0.0))
    assert len(seen) <= 12 + SYNC_EVERY  # found at the next flush, at most SYNC_EVERY steps late
