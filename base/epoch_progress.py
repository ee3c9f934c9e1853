"""The running totals of one training epoch.

A checkpoint taken inside an epoch carries them, so a resumed epoch ends with the same
metrics.csv row (lr at the epoch's start, train loss and F1 over all its batches) as one that
was never interrupted.
"""
from __future__ import annotations

import math
import time

import torch

from base.distributed import World, gather
from model.metric import macro_f1


class EpochProgress:
    def __init__(self, epoch: int, lr: float, step: int = 0, seconds: float = 0.0, loss_sum: float = 0.0,
                 count: int = 0, preds: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        self.epoch, self.lr, self.step = epoch, lr, step  # step: training batches done in this epoch
        self.loss_sum, self.count = loss_sum, count
        empty = torch.zeros(0, dtype=torch.int64)
        self.preds = [empty if preds is None else preds]
        self.labels = [empty if labels is None else labels]
        self._seconds, self._clock = seconds, time.perf_counter()

    def add(self, loss: float, preds: torch.Tensor, labels: torch.Tensor) -> None:
        """One batch: its mean loss and its predicted and true 18-class labels."""
        self.step += 1
        self.loss_sum += loss * len(labels)
        self.count += len(labels)
        self.preds.append(preds)
        self.labels.append(labels)

    def seconds(self) -> float:
        """Time spent on this epoch, across resumes."""
        return self._seconds + time.perf_counter() - self._clock

    def metrics(self, world: World | None = None) -> dict[str, float]:
        """train_loss and train_f1 of the epoch, over every process's batches under DDP."""
        parts = gather((self.loss_sum, self.count, torch.cat(self.preds), torch.cat(self.labels)), world or World())
        loss_sum, count = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if not count:
            return {"train_loss": math.nan, "train_f1": math.nan}
        f1 = macro_f1(torch.cat([p[3] for p in parts]).numpy(), torch.cat([p[2] for p in parts]).numpy())
        return {"train_loss": loss_sum / count, "train_f1": f1}

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "lr": self.lr, "step": self.step, "seconds": self.seconds(),
                "loss_sum": self.loss_sum, "count": self.count,
                "preds": torch.cat(self.preds), "labels": torch.cat(self.labels)}

    @classmethod
    def from_state(cls, state: dict) -> EpochProgress:
        return cls(**state)
