"""Fine-tuning controls: the backbone's lr scale, timm's layer-wise decay, a frozen start, and the
Trainer hook that builds the optimizer."""
from __future__ import annotations

import pytest
import torch
from timm.optim._param_groups import param_groups_layer_decay

from base import config as config_lib
from base.errors import UserError
from base.optim import Schedule, build_optimizer, param_groups
from model.backbone import create_backbone
from model.model import FaceClassifier


def _model(backbone: str = "resnet10t") -> FaceClassifier:
    return FaceClassifier(create_backbone(backbone, False, ""), {"mask": 3, "gender": 2, "age": 3})


def _cfg(*sets: str) -> config_lib.Config:
    return config_lib.load(None, ["backbone=resnet10t", "lr=0.01", "weight_decay=0.05", *sets])


def test_without_fine_tuning_knobs_the_groups_are_the_two_of_earlier_versions():
    model, cfg = _model(), _cfg()
    groups = build_optimizer(model, cfg).param_groups
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0] and all(g["lr"] == 0.01 for g in groups)
    assert [len(g["params"]) for g in groups] == [sum(p.ndim > 1 for p in model.parameters()),
                                                  sum(p.ndim <= 1 for p in model.parameters())]


def test_layer_decay_groups_the_backbone_as_timm_does_and_the_heads_learn_at_lr():
    model, cfg = _model(), _cfg("layer_decay=0.7", "backbone_lr_scale=0.5")
    ours = {id(p): (round(g.get("lr_scale", 1.0), 9), g["weight_decay"])
            for g in param_groups(model, cfg) for p in g["params"]}
    timm_groups = param_groups_layer_decay(model.backbone, 0.05, layer_decay=0.7)
    theirs = {id(p): (round(g["lr_scale"] * 0.5, 9), g["weight_decay"]) for g in timm_groups for p in g["params"]}
    assert {k: ours[k] for k in theirs} == theirs and len(theirs) == len(list(model.backbone.parameters()))
    heads = [ours[id(p)] for p in model.heads.parameters()]
    assert heads and all(scale == 1.0 for scale, _ in heads)
    lrs = {id(p): g["lr"] for g in build_optimizer(model, cfg).param_groups for p in g["params"]}
    first, last = next(model.backbone.parameters()), list(model.backbone.parameters())[-1]
    assert lrs[id(first)] < lrs[id(last)] <= 0.005 < lrs[id(next(model.heads.parameters()))] == 0.01


def test_a_frozen_start_holds_the_backbone_then_lets_it_learn():
    model, cfg = _model(), _cfg("freeze_backbone_epochs=1", "scheduler=none")
    optimizer = build_optimizer(model, cfg)
    schedule = Schedule(optimizer, cfg, updates_per_epoch=4)
    backbone = [g["lr"] for g in optimizer.param_groups if g.get("backbone")]
    heads = [g["lr"] for g in optimizer.param_groups if not g.get("backbone")]
    assert backbone == [0.0, 0.0] and heads == [0.01, 0.01]
    backbone_before = [p.detach().clone() for p in model.backbone.parameters()]
    heads_before = [p.detach().clone() for p in model.heads.parameters()]
    outputs = model(torch.randn(2, 3, 32, 32))
    sum(o.sum() for o in outputs.values()).backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(backbone_before, model.backbone.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(heads_before, model.heads.parameters(), strict=True))
    schedule.epoch_end()
    assert all(g["lr"] == 0.01 for g in optimizer.param_groups)


def test_layer_decay_on_a_backbone_without_layer_groups_is_one_line():
    with pytest.raises(UserError, match="does not say how its layers group"):
        build_optimizer(_model("tv:mobilenet_v2"), _cfg("backbone=tv:mobilenet_v2", "layer_decay=0.75"))


def test_a_trainer_builds_its_own_optimizer_through_the_hook(tiny_cfg):
    from trainer.single_head import SingleHeadTrainer

    class Plain(SingleHeadTrainer):
        def build_optimizer(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr)

    trainer = Plain(tiny_cfg)
    trainer.fit()
    assert type(trainer.updater.optimizer) is torch.optim.SGD


def test_a_freeze_as_long_as_the_run_is_refused_and_metrics_show_the_heads_lr():
    with pytest.raises(UserError, match="freeze_backbone_epochs.*never trains"):
        _cfg("epochs=3", "freeze_backbone_epochs=3")
    from base.optim import head_lr

    model, cfg = _model(), _cfg("freeze_backbone_epochs=1", "scheduler=none")
    optimizer = build_optimizer(model, cfg)
    Schedule(optimizer, cfg, updates_per_epoch=4)
    assert optimizer.param_groups[0]["lr"] == 0.0 and head_lr(optimizer) == 0.01
