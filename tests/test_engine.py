"""The update engine: schedules, accumulation, clipping, AMP, EMA; and exact resume with all of them."""
import math

import pandas as pd
import pytest
import torch
from fake_clock import fake_laps
from torch import nn

import train
from base import config as config_lib
from base.base_trainer import BaseTrainer
from base.errors import UserError
from base.optim import Schedule, build_optimizer
from base.update import Updater

CFG = config_lib.load(overrides=["lr=1.0", "epochs=10"])


def _lrs(cfg, updates_per_epoch=4, metrics=None):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    schedule = Schedule(opt, cfg, updates_per_epoch)
    out = []
    for epoch in range(cfg.epochs):
        for _ in range(updates_per_epoch):
            out.append(opt.param_groups[0]["lr"])
            schedule.update()
        schedule.epoch_end(metrics[epoch] if metrics else None)
    return out


def test_warmup_then_cosine_reaches_zero():
    lrs = _lrs(CFG.replace(scheduler="cosine", warmup_epochs=1.0))
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:], strict=False)) and lrs[-1] < 0.01


def test_step_onecycle_and_per_epoch_interval():
    assert _lrs(CFG.replace(scheduler="step", step_epochs=3))[::4] == pytest.approx([1, 1, 1, .1, .1, .1, .01, .01,
                                                                                     .01, .001])
    onecycle = _lrs(CFG.replace(scheduler="onecycle"))
    assert onecycle[0] == pytest.approx(1 / 25) and max(onecycle) == pytest.approx(1.0, abs=0.02)
    assert onecycle.index(max(onecycle)) == 12 and onecycle[-1] < 0.01  # peak after 30% of 40 updates
    per_epoch = _lrs(CFG.replace(scheduler="cosine", scheduler_interval="epoch"))
    assert all(len(set(per_epoch[i:i + 4])) == 1 for i in range(0, 40, 4))  # flat within an epoch


def test_plateau_cuts_after_patience_epochs_without_improvement():
    metrics = [0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7]
    lrs = _lrs(CFG.replace(scheduler="plateau", plateau_patience=2, step_gamma=0.5), metrics=metrics)[::4]
    assert lrs == pytest.approx([1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25])


def test_schedule_state_round_trips():
    cfg = CFG.replace(scheduler="plateau", warmup_epochs=2.0)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    a = Schedule(opt, cfg, 4)
    for _ in range(5):
        a.update()
    a.epoch_end(0.3)
    opt2 = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    b = Schedule(opt2, cfg, 4)
    b.load_state_dict(a.state_dict())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_a_schedule_resumed_with_other_updates_per_epoch_keeps_its_place_in_the_run():
    # 4 processes made 100 updates an epoch; after epoch 5 of 10 the run goes on with 2 (200 an epoch)
    cfg = CFG.replace(scheduler="cosine", warmup_epochs=0.0)
    a = Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), cfg, 100)
    for _ in range(5):
        for _ in range(100):
            a.update()
        a.epoch_end()
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    b = Schedule(opt, cfg, 200)
    b.load_state_dict(a.state_dict())
    assert b.updates == 1000 and opt.param_groups[0]["lr"] == pytest.approx(0.5)  # halfway down the cosine
    for _ in range(5 * 200):
        b.update()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # and at its end with the run's


def test_a_schedule_shortened_by_the_time_limit_stays_short_on_resume_unless_epochs_change():
    cfg = CFG.replace(scheduler="cosine", epochs=6)
    a = Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), cfg, 4)
    a.set_epochs(3)
    for replan, expected in ((cfg, 3), (cfg.replace(epochs=8), 8)):  # resume as it was, and with --set epochs=8
        b = Schedule(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), replan, 4)
        b.load_state_dict(a.state_dict())
        assert (b.epochs, b.total) == (expected, expected * 4)


def _updater(cfg, steps_per_epoch, seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return model, Updater(model, model, opt, Schedule(opt, cfg.replace(scheduler="none"), 1), cfg,
                          torch.device("cpu"), steps_per_epoch)


def test_accumulation_equals_one_big_batch_and_averages_a_short_last_group():
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    big, one = _updater(CFG.replace(accumulate_steps=1), 1)
    one.backward(nn.functional.cross_entropy(big(x[:4]), y[:4]), 0)
    small, acc = _updater(CFG.replace(accumulate_steps=2), 3)
    assert acc.backward(nn.functional.cross_entropy(small(x[:2]), y[:2]), 0) == 0  # no update yet
    assert acc.backward(nn.functional.cross_entropy(small(x[2:4]), y[2:4]), 1) == 2
    assert torch.allclose(big.weight, small.weight, atol=1e-6)
    # The third batch is a group of one: its loss is not halved.
    ref, solo = _updater(CFG.replace(accumulate_steps=1), 1)
    ref.load_state_dict(small.state_dict())
    solo.backward(nn.functional.cross_entropy(ref(x[4:]), y[4:]), 0)
    assert acc.backward(nn.functional.cross_entropy(small(x[4:]), y[4:]), 2) == 1
    assert torch.allclose(ref.weight, small.weight, atol=1e-6)


def test_clipping_bounds_the_gradient_norm():
    model, updater = _updater(CFG.replace(clip_grad_norm=0.01), 1)
    before = [p.detach().clone() for p in model.parameters()]
    updater.backward(100 * model(torch.randn(8, 4)).pow(2).sum(), 0)
    moved = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before, strict=True)))
    assert moved <= 0.1 * 0.01 + 1e-7  # lr x clipped norm


@pytest.mark.parametrize("fused", [False, True])  # the fused kernel gets the scale and inf flag from GradScaler
def test_an_fp16_overflow_skips_the_schedule_tick_and_the_ema_update_with_the_step(fused):
    cfg = CFG.replace(ema=True, ema_decay=0.5, scheduler="cosine")
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, fused=fused)
    updater = Updater(model, model, opt, Schedule(opt, cfg, 10), cfg, torch.device("cpu"), 1)
    updater.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)  # what fp16 on CUDA uses
    x = torch.randn(8, 4)

    def seen():
        return (updater.schedule.updates, int(updater.ema.updates), opt.param_groups[0]["lr"],
                [p.detach().clone() for p in (*model.parameters(), *updater.ema.parameters())])

    before = seen()
    updater.backward(model(x).pow(2).sum() * math.inf, 0)  # inf gradients: GradScaler skips the step
    after = seen()
    assert after[:3] == before[:3] and all(torch.equal(a, b) for a, b in zip(after[3], before[3], strict=True))
    assert updater.scaler.get_scale() == 2.0 ** 15  # it backed off
    updater.backward(model(x).pow(2).sum(), 0)  # a finite step still advances both
    done = seen()
    assert done[:2] == (1, 1) and done[2] < before[2]
    assert not torch.equal(done[3][0], before[3][0]) and not torch.equal(done[3][-1], before[3][-1])


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_the_optimizer_is_fused_where_torch_has_the_kernel_and_default_where_not(optimizer, monkeypatch):
    model = nn.Linear(4, 3)
    assert build_optimizer(model, CFG.replace(optimizer=optimizer)).defaults["fused"] is True
    kind = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer]
    plain_init = kind.__init__

    def no_fused_kernel(self, params, *args, fused=None, **kwargs):  # an older torch, another device
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        plain_init(self, params, *args, **kwargs)

    monkeypatch.setattr(kind, "__init__", no_fused_kernel)
    fallback = build_optimizer(model, CFG.replace(optimizer=optimizer))
    assert isinstance(fallback, kind) and not fallback.defaults.get("fused")
    assert [g["weight_decay"] for g in fallback.param_groups] == [CFG.weight_decay, 0.0]


def test_without_a_scaler_an_update_reads_nothing_back_from_the_device(monkeypatch):
    model, updater = _updater(CFG, 1)
    monkeypatch.setattr(torch.amp.GradScaler, "get_scale", lambda self: pytest.fail("a host sync"))
    updater.backward(model(torch.randn(8, 4)).pow(2).sum(), 0)
    assert updater.schedule.updates == 1


def test_fp16_on_cpu_is_refused_and_bf16_autocast_trains(tiny_cfg):
    from trainer import get_trainer

    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        get_trainer("single")(tiny_cfg.replace(amp="fp16"))
    best = get_trainer("single")(tiny_cfg.replace(amp="bf16")).fit()
    assert math.isfinite(best["train_loss"])


def test_ema_weights_are_validated_and_kept_as_best(tiny_cfg):
    from trainer import get_trainer

    trainer = get_trainer("single")(tiny_cfg.replace(ema=True, ema_decay=0.9, epochs=1))
    trainer.fit()
    best = torch.load(trainer.run / "best.pt", weights_only=True)  # one epoch: it is the best
    last = torch.load(trainer.run / "last.pt", weights_only=True)
    ema = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
    raw = last["model"]
    assert any(not torch.equal(ema[k], raw[k]) for k in raw)  # the EMA lags the raw weights
    assert all(torch.equal(best["model"][k], ema[k]) for k in ema)


@pytest.mark.parametrize("warmup", [True, False])
def test_ema_warmup_starts_from_the_trained_weights_not_the_random_ones(warmup):
    from base.update import WarmupEma

    model = nn.Linear(4, 2)
    ema = WarmupEma(model, decay=0.999, warmup=warmup)
    start = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    assert int(ema.updates) == 1 and "updates" in ema.state_dict()  # checkpoints carry the count
    moved = (ema.module.weight - start["weight"]).abs().mean().item()
    # warm-up: decay 0 at the first update, the EMA is the model; without: 0.1% of the way
    assert moved == pytest.approx(1.0 if warmup else 0.001, rel=1e-3)


def test_time_limit_shortens_the_schedule_so_it_still_anneals(tiny_cfg, monkeypatch):
    from trainer import get_trainer

    fake_laps(monkeypatch, [60.0])  # every epoch "takes" a minute
    trainer = get_trainer("single")(tiny_cfg.replace(epochs=6, time_limit_minutes=3.5))
    trainer.fit()
    # after epoch 1 (and the real reading time, well under 30 s) two more minutes fit, not three
    rows = pd.read_csv(trainer.run / "metrics.csv")
    assert list(rows["epoch"]) == [1, 2, 3]
    assert trainer.updater.schedule.epochs == 3
    assert trainer.updater.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine ended
    full = get_trainer("single")(tiny_cfg.replace(epochs=3))
    full.fit()
    assert rows["lr"].tolist() == pd.read_csv(full.run / "metrics.csv")["lr"].tolist()  # as if planned for 3


def test_time_limit_lengthens_the_plan_again_once_the_slow_first_epoch_is_past(tiny_cfg, monkeypatch):
    from trainer import get_trainer

    fake_laps(monkeypatch, [100.0, 40.0])  # 240 s: after epoch 1 one more fits, after epoch 2 two more
    trainer = get_trainer("single")(tiny_cfg.replace(epochs=4, time_limit_minutes=4.0))
    trainer.fit()
    assert list(pd.read_csv(trainer.run / "metrics.csv")["epoch"]) == [1, 2, 3, 4]
    assert trainer.updater.schedule.epochs == 4
    assert trainer.updater.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # annealed by epoch 4
    log = (trainer.run / "train.log").read_text()
    assert "2 of 4 epochs fit" in log and "ends after epoch 4, not 2" in log


def test_resume_is_exact_with_ema_accumulation_clipping_and_plateau(tiny_overrides, tmp_path, monkeypatch):
    knobs = ["epochs=3", "ema=True", "ema_decay=0.9", "accumulate_steps=2", "clip_grad_norm=1.0",
             "scheduler=plateau", "plateau_patience=0", "drop_rate=0.2", "checkpoint_every_steps=3"]
    sets = [a for o in tiny_overrides + knobs for a in ("--set", o)]
    train.main([*sets, "--set", "name=straight"])
    real = BaseTrainer.save_last

    def crash_inside_epoch_two(self, epoch):
        real(self, epoch)
        if epoch == 1 and self.progress is not None:  # a checkpoint inside epoch 2 is on disk
            raise KeyboardInterrupt

    monkeypatch.setattr(BaseTrainer, "save_last", crash_inside_epoch_two)
    with pytest.raises(SystemExit):
        train.main([*sets, "--set", "name=stopped"])
    monkeypatch.setattr(BaseTrainer, "save_last", real)
    straight, stopped = sorted((tmp_path / "runs").iterdir(), key=lambda p: not p.name.startswith("straight"))
    assert torch.load(stopped / "last.pt", weights_only=True)["step"] > 0
    train.main(["--resume", str(stopped)])
    a, b = (torch.load(r / "last.pt", weights_only=True) for r in (straight, stopped))
    for part in ("model", "ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])
    ma, mb = pd.read_csv(straight / "metrics.csv"), pd.read_csv(stopped / "metrics.csv")
    cols = [c for c in ma.columns if c != "seconds"]
    pd.testing.assert_frame_equal(ma[cols], mb[cols])


def test_a_callback_stop_ends_the_run_after_its_epoch_with_a_complete_folder(tiny_cfg):
    from base.callbacks import Callback
    from trainer import get_trainer

    class StopAtOne(Callback):
        def on_epoch_end(self, trainer, row, improved, val_probs):
            if row["epoch"] == 1:
                trainer.stop("enough")

    trainer = get_trainer("single")(tiny_cfg.replace(epochs=3))
    trainer.extra_callbacks.append(StopAtOne())
    best = trainer.fit()
    assert best["epoch"] == 1 and trainer.stop_reason == "enough"
    assert pd.read_csv(trainer.run / "metrics.csv")["epoch"].tolist() == [1]
    assert (trainer.run / "best.pt").is_file() and (trainer.run / "last.pt").is_file()
    assert (trainer.run / "summary.json").is_file()  # on_fit_end ran: the run ended as usual
