"""The training step never waits for the device: host transfers come every SYNC_EVERY steps."""
import math
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from base import config as config_lib
from base.epoch_progress import SYNC_EVERY, EpochProgress
from base.errors import UserError
from base.optim import Schedule
from base.update import Updater
from model.heads import class_counts, head_specs
from model.tta import build_views
from trainer import get_trainer

ROOT = str(Path(__file__).resolve().parent.parent)
READS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")  # each makes the host wait


def _ours(frame) -> bool:
    caller = frame.f_code.co_filename
    return caller.startswith(ROOT) and "site-packages" not in caller and "/tests/" not in caller


def _boolean(index) -> bool:
    """Whether an index selects by a boolean mask: its result's size is known only from the data."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in parts)


def _count_reads(monkeypatch, everyone: bool = False) -> Counter:
    """Count the device reads made by the project's own code (torch's internals are not ours;
    `everyone`: theirs too), and the boolean-mask indexing that makes torch read (a nonzero)."""
    calls = Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, _original=original, _name=name, **kwargs):
            if everyone or _ours(sys._getframe(1)):
                calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    for name in ("__getitem__", "__setitem__"):
        original = getattr(torch.Tensor, name)

        def indexed(self, index, *args, _original=original, _name=name):
            if _boolean(index) and (everyone or _ours(sys._getframe(1))):
                calls[f"{_name} with a boolean mask"] += 1
            return _original(self, index, *args)

        monkeypatch.setattr(torch.Tensor, name, indexed)
    return calls


def _names_a_device(args, kwargs) -> bool:
    return "device" in kwargs or any(isinstance(a, torch.device | str | int | torch.Tensor) for a in args)


def _count_repeated_copies(monkeypatch) -> Counter:
    """Count the host-to-device copies of the same data by the project's own code: a tensor sent to
    a device once more (Tensor.to), or a tensor made from Python numbers on a device (torch.tensor
    or torch.as_tensor with device=) once more by the same call. A batch travels once; a constant
    should travel once per device, not once per batch. On the CPU these calls copy nothing, but
    on a GPU each is a copy from pageable memory, which makes the host wait."""
    repeats, sent, built = Counter(), [], Counter()  # `sent` holds the tensors, so no id is reused
    original_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        frame = sys._getframe(1)
        if _ours(frame) and _names_a_device(args, kwargs):
            if any(self is earlier for earlier in sent):
                repeats[f"{frame.f_code.co_filename}:{frame.f_lineno} Tensor.to"] += 1
            sent.append(self)
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    for name in ("tensor", "as_tensor"):
        original = getattr(torch, name)

        def made(*args, _original=original, _name=name, **kwargs):
            frame = sys._getframe(1)
            if _ours(frame) and kwargs.get("device") is not None:
                site = f"{frame.f_code.co_filename}:{frame.f_lineno} torch.{_name} (call {frame.f_lasti})"
                built[site] += 1
                if built[site] > 1:
                    repeats[site] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch, name, made)
    return repeats


def _trainer(cfg):
    trainer = get_trainer(cfg.trainer)(cfg)
    table, _, _ = trainer.split_tables()
    loader = trainer.loader(table, train=True)
    trainer.steps_per_epoch = len(loader)
    targets = torch.as_tensor(table[["mask", "gender", "age_group"]].to_numpy())
    trainer.specs = head_specs(cfg, trainer.heads, class_counts(targets, trainer.heads))  # as fit() does
    trainer.build_updater()
    loader.set_epoch(1)
    return trainer, loader


@pytest.mark.parametrize("knobs", [{}, {"mix": "cutmix", "mix_prob": 1.0, "trainer": "multihead"},
                                   {"loss": "f1"}, {"loss": {"ce": 0.5, "f1": 0.5}, "trainer": "multihead"},
                                   {"class_weights": "inverse"}, {"class_weights": "inverse", "loss": "focal",
                                                                  "trainer": "multihead", "mix": "cutmix"},
                                   {"ema": True}])  # the EMA's warm-up counts its updates on the host
def test_host_reads_per_epoch_are_steps_over_sync_every(tiny_cfg, monkeypatch, knobs):
    trainer, loader = _trainer(tiny_cfg.replace(batch_size=4, **knobs))
    steps = len(loader)
    assert steps >= 3 * SYNC_EVERY
    calls = _count_reads(monkeypatch)
    copies = _count_repeated_copies(monkeypatch)
    progress = EpochProgress(1, lr=0.0)
    trainer.train_epoch(loader, progress)
    assert not copies, copies  # class weights and other constants reach the device once
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


@pytest.mark.parametrize("fused", [False, True])
def test_an_fp16_update_reads_the_device_once_beyond_torchs_own_step(monkeypatch, fused):
    """GradScaler on the CPU stands in for fp16 on CUDA (amp_dtype refuses fp16 off CUDA). Every
    read counts here, torch's too: a plain optimizer's scaler.step() reads the inf flag itself (one),
    a fused one's reads nothing; the update then reads one value to decide the schedule's tick."""
    cfg = config_lib.load(overrides=["lr=0.1", "epochs=10", "ema=True", "ema_decay=0.5"])
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, fused=fused)
    updater = Updater(model, model, opt, Schedule(opt, cfg, 10), cfg, torch.device("cpu"), 1)
    updater.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    x = torch.randn(8, 4)
    calls = _count_reads(monkeypatch, everyone=True)
    for overflow in (True, False, False):
        before = sum(calls.values())
        updater.backward(model(x).pow(2).sum() * (math.inf if overflow else 1.0), 0)
        assert sum(calls.values()) - before == (1 if fused else 2), calls
    assert updater.schedule.updates == 2 and int(updater.ema.updates) == 2  # the overflow was skipped


def test_the_brightness_view_makes_its_tensors_once_and_gives_the_same_pixels(monkeypatch):
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    view = build_views(["brightness"], mean, std)[1]
    batches = [torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(i)) for i in range(5)]
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    copies = _count_repeated_copies(monkeypatch)
    for images in batches:
        assert torch.equal(view(images), 1.1 * images + (1.1 - 1) * m / s)  # (1.1 x - mean) / std
    assert not copies, copies
    assert view(batches[0].double()).dtype == torch.float64  # one offset per dtype


def test_validation_with_the_brightness_view_copies_no_constant_twice(tiny_cfg, monkeypatch):
    trainer, _ = _trainer(tiny_cfg.replace(inference_batch_size=8))
    _, val, _ = trainer.split_tables()
    loader = trainer.loader(val, train=False)
    assert len(loader) >= 3
    copies = _count_repeated_copies(monkeypatch)
    trainer.predict(loader, tta=["brightness", "flip"])
    assert not copies, copies
