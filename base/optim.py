"""Optimizer and learning-rate schedule from the config.

The optimizer is timm's create_optimizer_v2 (torch's AdamW, Adam or SGD underneath, fused where
torch has the kernel) over parameter groups made here: norms and biases get no weight decay; for
fine-tuning, the backbone's groups get `backbone_lr_scale` times the lr and, with `layer_decay`,
timm's layer-wise decay (its param_groups_layer_decay: the layers nearest the input learn
slowest); `freeze_backbone_epochs` holds the backbone's lr at 0 for the first epochs, after
which it joins at the schedule's lr of the moment (no warm-up of its own). With none of
them set the groups are the two of earlier versions, in their order, so old checkpoints resume.

The schedule is lr = base_lr * warmup * shape, where
warm-up is linear over `warmup_epochs` and the shape is cosine, step, one-cycle, plateau or
flat. The shape advances after every update or at every epoch end (`scheduler_interval`); the
warm-up always counts updates, so half an epoch of warm-up means half an epoch of updates under
either interval, and a per-epoch shape starts with the first epoch that begins after it.

Written here rather than taken from timm.scheduler (checked against timm 1.0.31):
- timm has no one-cycle, so this class would stay for it anyway;
- a timm scheduler ticks its warm-up and its shape on one clock (`t_in_epochs`), so a per-update
  warm-up in front of a per-epoch cosine needs two schedulers writing the same lr;
- its PlateauLRScheduler is deprecated, does nothing in `step_update` (no per-update warm-up)
  and leaves torch's bad-epoch counter out of its state_dict, so a resume would not be exact;
- its length (`t_initial`) is a constructor argument, while the time limit re-plans it mid-run;
- its warm-up starts at `warmup_lr_init` (0 by default: a first update, or epoch, that learns nothing).
Torch's own schedulers cannot put a warm-up in front of ReduceLROnPlateau. Here the lr is a
pure function of (updates, epochs ended, plateau state, planned epochs), all in state_dict,
so a resume continues bit for bit. One-cycle follows torch's OneCycleLR for the lr (up from
lr/25 during the warm-up, default 30% of training, then cosine down to lr/25e4); momentum is
not cycled.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from base.errors import UserError
from base.monitor import Monitor


def build_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """The configured optimizer over `param_groups(model, cfg)`, each group at its own lr."""
    from timm.optim import create_optimizer_v2

    groups = param_groups(model, cfg)
    for group in groups:
        group["lr"] = cfg.lr * group.get("lr_scale", 1.0)
    name = {"adamw": "adamw", "adam": "adam", "sgd": "sgd" if cfg.momentum > 0 else "momentum"}[cfg.optimizer]
    options = {"momentum": cfg.momentum} if cfg.optimizer == "sgd" else {}
    return fused(lambda groups, **more: create_optimizer_v2(groups, opt=name, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                                            **options, **more), groups)


def head_lr(optimizer: torch.optim.Optimizer) -> float:
    """The lr metrics.csv shows: the first group's outside the backbone (the heads', at the full
    lr), not a frozen or layer-decayed backbone group's."""
    return next((g["lr"] for g in optimizer.param_groups if not g.get("backbone")), optimizer.param_groups[0]["lr"])


def param_groups(model: nn.Module, cfg) -> list[dict]:
    """Weight-decay groups of `model`; with a fine-tuning knob its backbone's apart (marked
    "backbone", with their "lr_scale"), the rest (the heads) at the full lr."""
    fine_tuning = cfg.layer_decay or cfg.backbone_lr_scale != 1 or cfg.freeze_backbone_epochs
    backbone = getattr(model, "backbone", None)
    if not fine_tuning:
        return _decay_split(list(model.named_parameters()), cfg.weight_decay)
    if backbone is None:
        raise UserError(f"config knobs layer_decay, backbone_lr_scale and freeze_backbone_epochs need a model with a "
                        f".backbone (FaceClassifier has one); {type(model).__name__} has none: leave them at their "
                        "defaults or give the model a backbone")
    if cfg.layer_decay:
        from timm.optim._param_groups import param_groups_layer_decay

        if not hasattr(backbone, "group_matcher"):
            raise UserError(f"config knob 'layer_decay': backbone {cfg.backbone!r} does not say how its layers group "
                            "(timm models do, torchvision's do not); use backbone_lr_scale for it instead")
        skip = backbone.no_weight_decay() if hasattr(backbone, "no_weight_decay") else ()
        groups = param_groups_layer_decay(backbone, cfg.weight_decay, no_weight_decay_list=skip,
                                          layer_decay=cfg.layer_decay)
    else:
        groups = _decay_split(list(backbone.named_parameters()), cfg.weight_decay)
    for group in groups:
        group["lr_scale"] = group.get("lr_scale", 1.0) * cfg.backbone_lr_scale
        group["backbone"] = True
    inside = {id(p) for p in backbone.parameters()}
    rest = [(name, p) for name, p in model.named_parameters() if id(p) not in inside]
    return [g for g in groups + _decay_split(rest, cfg.weight_decay) if g["params"]]


def _decay_split(named: list[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict]:
    """[weights with decay, norms and biases without], trainable parameters only."""
    decay = [p for _, p in named if p.requires_grad and p.ndim > 1]
    no_decay = [p for _, p in named if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def fused(kind: Callable[..., torch.optim.Optimizer], groups: list[dict], **options) -> torch.optim.Optimizer:
    """`kind` with its fused kernel (one kernel for all parameters) where this torch has one for
    the parameters' device, else torch's default. The default steps a CPU model one tensor at a
    time: for mobilenetv3_small_100 (142 tensors) an AdamW step took 21.6 ms fused-off and 4.0 ms
    fused on 2 CPU cores, 4% of a training step at 112x112, batch 64. GradScaler drives the fused
    kernels too: it hands them its scale and inf flag on the device, and they skip the update."""
    try:  # on copies: torch writes fused=True into the groups it was given before it refuses them
        return kind([dict(g) for g in groups], fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel here (older torch, another device)
        return kind(groups, **options)


class Schedule:
    """Sets the optimizer's lr; call `update()` after every optimizer step and
    `epoch_end(metric)` after every epoch (plateau reads the monitored metric there)."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg, updates_per_epoch: int, monitor: Monitor | None = None):
        self.optimizer, self.cfg, self.monitor = optimizer, cfg, monitor or Monitor()  # "plateau": what is better
        self.per_epoch = cfg.scheduler_interval == "epoch"
        self.updates_per_epoch = max(1, updates_per_epoch)
        self.unit = 1 if self.per_epoch else self.updates_per_epoch  # shape ticks per epoch
        self.step_ticks = max(1, cfg.step_epochs * self.unit)
        self.base = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        for g, lr in zip(optimizer.param_groups, self.base, strict=True):
            g["initial_lr"] = lr
        self.updates, self.epochs_ended = 0, 0
        self.plateau_factor, self.best, self.bad_epochs = 1.0, None, 0
        self.set_epochs(cfg.epochs)

    def set_epochs(self, epochs: int) -> None:
        """Plan the schedule for `epochs` epochs (under a time limit: those that fit)."""
        cfg, self.epochs = self.cfg, epochs
        self.total = max(1, epochs * self.unit)
        warmup = cfg.warmup_epochs if cfg.warmup_epochs or cfg.scheduler != "onecycle" else 0.3 * epochs
        self.warmup = max(1, round(warmup * self.updates_per_epoch)) if warmup > 0 else 0  # in updates
        # the shape's tick where it starts: per epoch, the first epoch that begins after the warm-up
        self.offset = -(-self.warmup // self.updates_per_epoch) if self.per_epoch else self.warmup
        self._apply()

    @property
    def tick(self) -> int:
        """Where the shape is: updates made, or epochs ended under the per-epoch interval."""
        return self.epochs_ended if self.per_epoch else self.updates

    def factor(self) -> float:
        cfg, t, u = self.cfg, self.tick, self.updates
        progress = min(1.0, max(0, t - self.offset) / max(1, self.total - self.offset))
        if cfg.scheduler == "onecycle":
            if u < self.warmup:
                return 1 / 25 + (1 - 1 / 25) * u / self.warmup
            low = 1 / 25e4
            return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
        warm = (u + 1) / self.warmup if u < self.warmup else 1.0
        if cfg.scheduler == "cosine":
            return warm * 0.5 * (1 + math.cos(math.pi * progress))
        if cfg.scheduler == "step":
            return warm * cfg.step_gamma ** (t // self.step_ticks)
        if cfg.scheduler == "plateau":
            return warm * self.plateau_factor
        return warm

    def _apply(self) -> None:
        f = self.factor()
        frozen = self.epochs_ended < self.cfg.freeze_backbone_epochs  # the backbone waits for the heads
        for g, lr in zip(self.optimizer.param_groups, self.base, strict=True):
            g["lr"] = 0.0 if frozen and g.get("backbone") else lr * f

    def update(self) -> None:
        self.updates += 1
        if not self.per_epoch or self.updates <= self.warmup:  # a per-epoch shape moves at epoch ends only
            self._apply()

    def epoch_end(self, metric: float | None = None) -> None:
        if self.cfg.scheduler == "plateau" and metric is not None and not math.isnan(metric):
            better = self.monitor.better(metric, self.best)
            self.best, self.bad_epochs = (metric, 0) if better else (self.best, self.bad_epochs + 1)
            if self.bad_epochs > self.cfg.plateau_patience:
                self.plateau_factor *= self.cfg.step_gamma
                self.bad_epochs = 0
        self.epochs_ended += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"updates": self.updates, "epochs_ended": self.epochs_ended, "plateau_factor": self.plateau_factor,
                "best": self.best, "bad_epochs": self.bad_epochs, "epochs": self.epochs,
                "planned_epochs": self.cfg.epochs, "updates_per_epoch": self.updates_per_epoch}

    def load_state_dict(self, state: dict) -> None:
        if "updates" not in state:  # written before the warm-up counted updates: one "tick"
            tick, n = state["tick"], self.updates_per_epoch
            state = {**state, "updates": tick * n if self.per_epoch else tick,
                     "epochs_ended": tick if self.per_epoch else tick // n}
        self.updates, self.epochs_ended = state["updates"], state["epochs_ended"]
        saved = state.get("updates_per_epoch", self.updates_per_epoch)
        if saved != self.updates_per_epoch:  # resumed with another process count (or batch): same share of the run
            self.updates = round(self.updates * self.updates_per_epoch / saved)
        self.plateau_factor, self.best, self.bad_epochs = state["plateau_factor"], state["best"], state["bad_epochs"]
        # a schedule re-planned by the time limit keeps its plan, unless the resume asks for other epochs
        same_plan = state.get("planned_epochs", self.cfg.epochs) == self.cfg.epochs
        self.set_epochs(state.get("epochs", self.cfg.epochs) if same_plan else self.cfg.epochs)
