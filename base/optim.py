"""Optimizer and learning-rate schedule from the config.

Norms and biases get no weight decay. The schedule is lr = base_lr * warmup * shape, where
warm-up is linear from 0 over `warmup_epochs` and the shape is cosine, step, one-cycle, plateau
or flat; it advances after every update or at every epoch end (`scheduler_interval`).

Written here rather than stacked from torch's schedulers: torch cannot put a warm-up in front
of ReduceLROnPlateau, and one object with one state_dict keeps resume exact for every shape.
One-cycle follows torch's OneCycleLR for the lr (up from lr/25 during the warm-up, default 30%
of training, then cosine down to lr/25e4); momentum is not cycled.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def build_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.AdamW(groups, lr=cfg.lr)


class Schedule:
    """Sets the optimizer's lr; call `update()` after every optimizer step and
    `epoch_end(metric)` after every epoch (plateau reads the monitored metric there)."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg, updates_per_epoch: int, mode: str = "max"):
        self.optimizer, self.cfg, self.mode = optimizer, cfg, mode
        self.per_epoch = cfg.scheduler_interval == "epoch"
        self.unit = 1 if self.per_epoch else updates_per_epoch  # ticks per epoch
        self.step_ticks = max(1, cfg.step_epochs * self.unit)
        self.base = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
        for g, lr in zip(optimizer.param_groups, self.base, strict=True):
            g["initial_lr"] = lr
        self.tick, self.plateau_factor, self.best, self.bad_epochs = 0, 1.0, None, 0
        self.set_epochs(cfg.epochs)

    def set_epochs(self, epochs: int) -> None:
        """Plan the schedule for `epochs` epochs (fewer than configured under a time limit)."""
        cfg, self.epochs = self.cfg, epochs
        self.total = max(1, epochs * self.unit)
        warmup = cfg.warmup_epochs if cfg.warmup_epochs or cfg.scheduler != "onecycle" else 0.3 * epochs
        self.warmup = round(warmup * self.unit)
        self._apply()

    def factor(self) -> float:
        t, cfg = self.tick, self.cfg
        if cfg.scheduler == "onecycle":
            if t < self.warmup:
                return 1 / 25 + (1 - 1 / 25) * t / self.warmup
            progress = min(1.0, (t - self.warmup) / max(1, self.total - self.warmup))
            low = 1 / 25e4
            return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
        warm = (t + 1) / self.warmup if t < self.warmup else 1.0
        if cfg.scheduler == "cosine":
            progress = min(1.0, max(0, t - self.warmup) / max(1, self.total - self.warmup))
            return warm * 0.5 * (1 + math.cos(math.pi * progress))
        if cfg.scheduler == "step":
            return warm * cfg.step_gamma ** (t // self.step_ticks)
        if cfg.scheduler == "plateau":
            return warm * self.plateau_factor
        return warm

    def _apply(self) -> None:
        f = self.factor()
        for g, lr in zip(self.optimizer.param_groups, self.base, strict=True):
            g["lr"] = lr * f

    def update(self) -> None:
        if not self.per_epoch:
            self.tick += 1
            self._apply()

    def epoch_end(self, metric: float | None = None) -> None:
        if self.cfg.scheduler == "plateau" and metric is not None and not math.isnan(metric):
            better = self.best is None or (metric > self.best if self.mode == "max" else metric < self.best)
            self.best, self.bad_epochs = (metric, 0) if better else (self.best, self.bad_epochs + 1)
            if self.bad_epochs > self.cfg.plateau_patience:
                self.plateau_factor *= self.cfg.step_gamma
                self.bad_epochs = 0
        if self.per_epoch:
            self.tick += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"tick": self.tick, "plateau_factor": self.plateau_factor, "best": self.best,
                "bad_epochs": self.bad_epochs, "epochs": self.epochs, "planned_epochs": self.cfg.epochs}

    def load_state_dict(self, state: dict) -> None:
        self.tick, self.plateau_factor = state["tick"], state["plateau_factor"]
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
        # a schedule shortened by the time limit stays short, unless the resume asks for other epochs
        same_plan = state.get("planned_epochs", self.cfg.epochs) == self.cfg.epochs
        self.set_epochs(state.get("epochs", self.cfg.epochs) if same_plan else self.cfg.epochs)
