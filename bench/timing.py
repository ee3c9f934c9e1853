"""What the speed benchmarks share: training steps timed on one pre-made batch, and the first
batches of a loader. A helper of bench/, not a script."""
from __future__ import annotations

import time

import torch

from model.heads import head_targets


def pure_compute(trainer, batches: int) -> float:
    """Seconds per sample of training steps on one pre-made batch."""
    cfg = trainer.cfg
    images = torch.randn(cfg.batch_size, 3, *cfg.image_size).to(trainer.device, memory_format=trainer.memory_format)
    targets = torch.zeros(cfg.batch_size, 4, dtype=torch.int64, device=trainer.device)
    soft = head_targets(targets, trainer.specs)
    trainer.train_model.train()
    for i in range(batches + 3):
        if i == 3:  # warmed up
            if trainer.device.type == "cuda":
                torch.cuda.synchronize(trainer.device)
            started = time.perf_counter()
        with trainer.updater.autocast():
            loss = trainer.loss(trainer.train_model(images), soft)
        trainer.updater.backward(loss, 0)
    if trainer.device.type == "cuda":  # the clock reads when the GPU is done, not when it was asked
        torch.cuda.synchronize(trainer.device)
    return (time.perf_counter() - started) / (batches * cfg.batch_size)


class Limited:
    """The first `batches` batches of a loader, looking like the loader to train_epoch."""

    def __init__(self, loader, batches: int):
        self.loader, self.batches = loader, batches

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i >= self.batches:
                return
            yield batch

    def __len__(self) -> int:
        return min(self.batches, len(self.loader))
