"""The running totals of one training epoch, kept on the device between flushes.

A training step hands over its loss and its predicted and true labels as device tensors and
never waits for the device (no `.item()`, no `.cpu()`, no `if` on a device value): `flush()`
brings what piled up to the host in three transfers, checks that every loss was finite, and
adds them to the totals. The trainer flushes every SYNC_EVERY steps (the progress bar's refresh),
before a checkpoint and at the epoch's end, so a GPU runs ahead of the host in between.
The totals are summed on the host in step order, as floats, exactly as before.
A checkpoint taken inside an epoch carries them, so a resumed epoch ends with the same
metrics.csv row (lr at the epoch's start, train loss and F1 over all its batches) as one that
was never interrupted.
"""
from __future__ import annotations

import math
import time

import torch

from base.distributed import World, gather
from base.errors import UserError
from model.metric import macro_f1

SYNC_EVERY = 10  # training steps between host transfers (and progress-bar refreshes)


class EpochProgress:
    def __init__(self, epoch: int, lr: float, step: int = 0, seconds: float = 0.0, loss_sum: float = 0.0,
                 count: int = 0, preds: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        self.epoch, self.lr, self.step = epoch, lr, step  # step: training batches done in this epoch
        self.loss_sum, self.count = loss_sum, count
        empty = torch.zeros(0, dtype=torch.int64)
        self.preds = [empty if preds is None else preds]
        self.labels = [empty if labels is None else labels]
        self._seconds, self._clock = seconds, time.perf_counter()
        self._pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # on the device

    def add(self, loss: torch.Tensor, preds: torch.Tensor, labels: torch.Tensor) -> None:
        """One batch: its mean loss (a 0-d tensor) and its predicted and true 18-class labels,
        where they are: nothing is read from the device until `flush()`."""
        self.step += 1
        self._pending.append((loss.detach().reshape(()), preds, labels))

    def flush(self) -> None:
        """Bring the pending batches to the host (three transfers) and add them to the totals;
        a non-finite loss among them stops the run, naming its step."""
        if not self._pending:
            return
        losses = torch.stack([p[0] for p in self._pending]).float().cpu().tolist()
        preds = torch.cat([p[1] for p in self._pending]).cpu()
        labels = torch.cat([p[2] for p in self._pending]).cpu()
        sizes = [len(p[2]) for p in self._pending]
        first = self.step - len(self._pending)
        self._pending = []
        for i, (loss, size) in enumerate(zip(losses, sizes, strict=True)):
            if not math.isfinite(loss):
                raise UserError(f"loss is {loss} at epoch {self.epoch} step {first + i}; lower lr or check the data")
            self.loss_sum += loss * size
            self.count += size
        self.preds.append(preds)
        self.labels.append(labels)

    def mean_loss(self) -> float:
        return self.loss_sum / max(1, self.count)

    def seconds(self) -> float:
        """Time spent on this epoch, across resumes."""
        return self._seconds + time.perf_counter() - self._clock

    def metrics(self, world: World | None = None) -> dict[str, float]:
        """train_loss and train_f1 of the epoch, over every process's batches under DDP."""
        self.flush()
        parts = gather((self.loss_sum, self.count, torch.cat(self.preds), torch.cat(self.labels)), world or World())
        loss_sum, count = sum(p[0] for p in parts), sum(p[1] for p in parts)
        if not count:
            return {"train_loss": math.nan, "train_f1": math.nan}
        f1 = macro_f1(torch.cat([p[3] for p in parts]).numpy(), torch.cat([p[2] for p in parts]).numpy())
        return {"train_loss": loss_sum / count, "train_f1": f1}

    def state_dict(self) -> dict:
        self.flush()
        return {"epoch": self.epoch, "lr": self.lr, "step": self.step, "seconds": self.seconds(),
                "loss_sum": self.loss_sum, "count": self.count,
                "preds": torch.cat(self.preds), "labels": torch.cat(self.labels)}

    @classmethod
    def from_state(cls, state: dict) -> EpochProgress:
        return cls(**state)
