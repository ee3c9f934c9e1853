"""Augmentation presets (albumentations), chosen by name in the config.

A preset builds the training pipeline; validation and inference always get the
deterministic one (resize + normalise). Faces are upright: no vertical flips anywhere.
"""
from __future__ import annotations

from collections.abc import Callable

import albumentations as A
from albumentations.pytorch import ToTensorV2

from base.registry import Registry

PRESETS: Registry[Callable] = Registry("augment preset")


def _resize(cfg) -> A.BasicTransform:
    height, width = cfg.image_size
    return A.Resize(height, width)


def _finish(cfg) -> list:
    return [A.Normalize(mean=cfg.mean, std=cfg.std), ToTensorV2()]


@PRESETS.register("none")
def none(cfg) -> list:
    return [_resize(cfg)]


@PRESETS.register("basic")
def basic(cfg) -> list:
    return [_resize(cfg), A.HorizontalFlip(p=0.5)]


def build_transform(cfg, train: bool) -> A.Compose:
    """The training pipeline of the configured preset, or the deterministic eval pipeline."""
    steps = PRESETS.get(cfg.augment)(cfg) if train else [_resize(cfg)]
    return A.Compose(steps + _finish(cfg), seed=cfg.seed)
