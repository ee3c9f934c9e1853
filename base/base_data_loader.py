"""BaseDataLoader: a torch DataLoader configured from the config, reproducible per epoch.

Training batches come from an EpochSampler: order and augmentation seeds are a function of
(seed, epoch) alone, so a resumed run sees the same batches as an uninterrupted one, whatever
the number of workers and whether they persist. Evaluation keeps the table's order (under DDP
each process takes its share of it, see base/distributed.py).
"""
from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from data_loader.samplers import EpochSampler


def default_workers(requested: int, device: torch.device, processes: int = 1) -> int:
    """-1 (auto): with a GPU, one worker per core but one (the main process feeds the GPU), at
    most 8, the cores shared by the `processes` training on this machine (torchrun: 8 processes
    on 32 cores get 3 workers each, not 8); on the CPU none: the model's own threads need every
    core, and a worker process beside them makes both wait on a small machine (compare with
    bench/input_pipeline.py --set num_workers=1)."""
    if requested >= 0:
        return requested
    if device.type != "cuda":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(8, cores // max(1, processes) - 1))


class BaseDataLoader(DataLoader):
    """`set_epoch(epoch)` before each training epoch picks that epoch's order and augmentation."""

    def __init__(self, dataset: Dataset, cfg, train: bool, sampler: Sampler | None = None,
                 device: torch.device | None = None, processes: int = 1):
        device = device or torch.device("cpu")
        batch_size = cfg.batch_size if train else cfg.inference_batch_size
        if train and sampler is None:
            sampler = EpochSampler(len(dataset), cfg.seed)
        workers = default_workers(cfg.num_workers, device, processes)
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            # A batch of one breaks BatchNorm; under DDP the share of each process is what counts.
            drop_last=train and len(sampler) > batch_size,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            # torch draws each epoch's worker seeds from this generator, or else from the global
            # RNG (which would shift dropout's random stream whenever an epoch starts).
            generator=torch.Generator().manual_seed(cfg.seed),
            # The sampler hands out the augmentation seeds, so workers may live across epochs.
            persistent_workers=workers > 0 and cfg.persistent_workers,
            prefetch_factor=cfg.prefetch_factor if workers > 0 else None,
        )

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.sampler.set_epoch(epoch, start_batch * self.batch_size)
