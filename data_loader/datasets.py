"""Datasets over the image table: decoded RGB pictures through an albumentations pipeline."""
from __future__ import annotations

import functools
import random
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from data_loader.face_crop import config_transform
from data_loader.images import read_rgb

TARGET_COLUMNS = ("mask", "gender", "age_group")  # and "age" in years where the table has it (else -1)


def image_reader(cfg) -> Callable[[str], np.ndarray]:
    """File -> RGB picture as the config wants it: decoded, then cut to the face when `face_crop`
    is on (data_loader/face_crop.py); the decoded-image cache stores what this returns."""
    crop = config_transform(cfg)
    return read_rgb if crop is None else functools.partial(_read_cropped, crop)


def _read_cropped(crop: Callable, file: str) -> np.ndarray:
    return crop(image=read_rgb(file))["image"]


class FaceDataset(Dataset):
    """(image tensor, target) pairs; target = LongTensor([mask, gender, age_group, age in years]).

    Without label columns (the eval set) the target is [-1, -1, -1, -1]; without an age (a
    pseudo-labelled image) the last is -1. With `images` (the
    decoded-image cache, in table order) nothing is read from disk.
    """

    def __init__(self, table: pd.DataFrame, transform: Callable, images: np.ndarray | None = None,
                 read: Callable[[str], np.ndarray] = read_rgb):
        self.files = table["file"].tolist()
        self.read = read  # without the cache: decode (and face-crop) every time
        self.images = images  # decoded once (data_loader/image_cache.py), or None: decode every time
        self.targets = torch.full((len(table), 4), -1, dtype=torch.int64)
        if all(c in table for c in TARGET_COLUMNS):
            self.targets[:, :3] = torch.tensor(table[list(TARGET_COLUMNS)].to_numpy(np.int64))
            if "age" in table:
                self.targets[:, 3] = torch.tensor(table["age"].to_numpy(np.int64))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """`item` is an index, or (index, augmentation seed) from the training sampler."""
        index, seed = item if isinstance(item, tuple) else (item, None)
        if seed is not None:  # one shared stream for all transforms, a function of the seed alone
            self.transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
        image = np.array(self.images[index]) if self.images is not None else self.read(self.files[index])
        return self.transform(image=image)["image"], self.targets[index]
