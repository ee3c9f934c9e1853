"""What a BaseTrainer reads: the rows it trains on and the loaders that batch a table.

    training_rows(cfg, table, world)   the train split less the `drop_ages` persons, plus the
                                  `pseudo_labels` rows (read by rank 0 for every process; checked
                                  images)
    build_loader(cfg, table, train, world, device)   batches of `table` from the decoded-image
                                  cache; training ones reproducible per epoch (EpochSampler,
                                  weighted when `sampler = "weighted"`); under DDP each process
                                  gets its share
    unaugmented(cfg, loader, device)   a training loader's pictures without augmentation
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

from base import distributed
from base.base_data_loader import BaseDataLoader
from base.distributed import World
from data_loader import image_cache, pseudo_labels
from data_loader.datasets import FaceDataset, image_reader
from data_loader.layout import data_root
from data_loader.samplers import EpochSampler, inverse_frequency
from data_loader.transforms import build_transform
from data_loader.verify import check_images


def training_rows(cfg, table: pd.DataFrame, world: World | None = None) -> pd.DataFrame:
    """`table` (the train split) without the persons whose age falls in a `drop_ages` band, plus
    the `pseudo_labels` rows when the config names a file. Rank 0 reads that file for every
    process: a pseudo-labelling round writes it where rank 0 runs, and no other machine has it."""
    if cfg.drop_ages:
        ages = table["age"].to_numpy()
        dropped = np.zeros(len(table), bool)
        for low, high in cfg.drop_ages:
            dropped |= (ages >= low) & (ages <= high)
        table = table[~dropped].reset_index(drop=True)
    if cfg.pseudo_labels:
        extra = distributed.on_rank_0(lambda: pseudo_labels.training_rows(cfg.pseudo_labels, data_root(cfg)),
                                       world or World())
        extra = check_images(extra, "pseudo-labelled", cfg.skip_bad_images)
        table = pd.concat([table, extra], ignore_index=True)
    return table


def build_loader(cfg, table: pd.DataFrame, train: bool, world: World, device: torch.device) -> BaseDataLoader:
    """Batches of `table` from the decoded-image cache; under DDP each process gets its share."""
    if train:
        weights = None
        if cfg.sampler == "weighted":
            column = {"class": "label", "age": "age_group"}.get(cfg.sampler_target, cfg.sampler_target)
            weights = inverse_frequency(table[column].to_numpy())
        sampler = EpochSampler(len(table), cfg.seed, weights, num_replicas=world.size, rank=world.rank,
                               share=cfg.sampler_share)
    else:
        sampler = distributed.ShardSampler(len(table), world) if world.enabled else None
    images = cached_images(cfg, table["file"].tolist(), world)
    dataset = FaceDataset(table, build_transform(cfg, train), images, image_reader(cfg))
    return BaseDataLoader(dataset, cfg, train, sampler=sampler, device=device, processes=world.local_size)


def cached_images(cfg, files: list[str], world: World):
    """The decoded-image cache of `files` (image_cache.load). Under torchrun a disk cache is built
    once per cache folder: each machine's local rank 0 builds it, or waits for the machine that
    holds its lock when they share the folder, while the machine's others wait here; then every
    process maps the one file. A memory cache is each process's own, within its share of the
    budget."""
    processes = world.local_size
    # Each machine decides its own mode (its memory budget), but the barriers below are everyone's:
    # one machine building a disk cache means one barrier for every process, or they would pair
    # with later ones.
    build_first = world.enabled and "disk" in distributed.gather(image_cache.cache_mode(files, cfg, processes), world)
    if build_first and world.local_rank:
        distributed.barrier(world)  # the node's rank 0 is writing the file
    # Memory caches are decoded by every process at once, which share the cores; a disk cache by one.
    threads = max(2, 2 * (os.cpu_count() or 1) // processes) if processes > 1 and not build_first else None
    images = image_cache.load(files, cfg, threads, processes)
    if build_first and not world.local_rank:
        distributed.barrier(world)
    return images


def unaugmented(cfg, loader: BaseDataLoader, device: torch.device) -> BaseDataLoader:
    """A training loader's pictures in table order through the evaluation pipeline (no
    augmentation), from the same decoded-image cache: to measure batch-norm statistics on."""
    data = loader.dataset
    dataset = FaceDataset(pd.DataFrame({"file": data.files}), build_transform(cfg, False), data.images, data.read)
    return BaseDataLoader(dataset, cfg, train=False, device=device)
