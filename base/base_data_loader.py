"""BaseDataLoader: a torch DataLoader configured from the config, reproducible per epoch.

Shuffling and augmentation are a function of (seed, epoch) alone: `set_epoch` reseeds the
generator that draws the order and the worker seeds, and each worker reseeds the dataset's
augmentation from its own seed. A resumed run therefore sees the same batches as an
uninterrupted one (for the same num_workers).
"""
from __future__ import annotations

import os
import random

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info


def default_workers(requested: int) -> int:
    """-1 means one worker per core but one (the main process trains), at most 8."""
    if requested >= 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(8, cores - 1))


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    cv2.setNumThreads(1)  # one OpenCV thread per worker; more only fight over the cores
    torch.set_num_threads(1)
    reseed = getattr(get_worker_info().dataset, "reseed", None)
    if reseed:
        reseed(seed)


class BaseDataLoader(DataLoader):
    """Training order is reshuffled per epoch with `set_epoch(epoch)`; evaluation keeps order."""

    def __init__(self, dataset: Dataset, cfg, train: bool, sampler: Sampler | None = None,
                 pin_memory: bool = False):
        self.seed = cfg.seed
        batch_size = cfg.batch_size if train else cfg.inference_batch_size
        super().__init__(
            dataset,
            batch_size=batch_size,
            shuffle=train and sampler is None,
            sampler=sampler,
            drop_last=train and len(dataset) > batch_size,  # a batch of one breaks BatchNorm
            num_workers=default_workers(cfg.num_workers),
            pin_memory=pin_memory,
            worker_init_fn=_seed_worker,
            generator=torch.Generator().manual_seed(cfg.seed),
        )

    def set_epoch(self, epoch: int) -> None:
        seed = self.seed * 1_000_003 + epoch
        self.generator.manual_seed(seed)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        reseed = getattr(self.dataset, "reseed", None)
        if self.num_workers == 0 and reseed:
            reseed(seed)
