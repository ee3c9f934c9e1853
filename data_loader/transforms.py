"""Augmentation presets (albumentations), chosen by name in the config.

A preset builds the training pipeline after the resize; validation and inference always get
the deterministic one (resize only). Pictures leave the pipeline as uint8 tensors and are
normalised batch-wise on the device (`normalize`). Faces are upright: no
vertical flips anywhere. Add your own preset with `@PRESETS.register("mine")` on a function
of the config that returns a list of transforms, or list transforms in `augment_ops`.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import albumentations as A
import cv2
import torch
from albumentations.pytorch import ToTensorV2

from base.errors import UserError
from base.registry import Registry
from data_loader.randaugment import randaugment as _randaugment

PRESETS: Registry[Callable] = Registry("augment preset")


def resize(cfg) -> list:
    """To image_size by the configured policy; deterministic, shared by every pipeline."""
    height, width = cfg.image_size
    if cfg.resize == "pad":  # letterbox: the whole picture, bars on the short side
        return [A.LongestMaxSize(max_size_hw=(height, width)),
                A.PadIfNeeded(height, width, border_mode=cv2.BORDER_CONSTANT, fill=0)]
    if cfg.resize == "crop":  # fill the frame, cut what overhangs around the centre
        return [A.SmallestMaxSize(max_size_hw=(height, width)), A.CenterCrop(height, width)]
    return [A.Resize(height, width)]


@PRESETS.register("none")
def none(cfg) -> list:
    """The resize alone."""
    return []


@PRESETS.register("basic")
def basic(cfg) -> list:
    """A horizontal flip, half of the time."""
    return [A.HorizontalFlip(p=0.5)]


@PRESETS.register("strong")
def strong(cfg) -> list:
    """Geometry, sensor noise, blur, colour and light, then cutout (CoarseDropout)."""
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.9, 1.1), translate_percent=(-0.0625, 0.0625), rotate=(-10, 10),
                 border_mode=cv2.BORDER_REFLECT_101, p=0.5),
        A.OneOf([A.GaussNoise(std_range=(0.02, 0.08)), A.ISONoise()], p=0.3),
        A.OneOf([A.MotionBlur(blur_limit=(3, 5)), A.GaussianBlur(blur_limit=(3, 5)),
                 A.MedianBlur(blur_limit=(3, 5))], p=0.2),
        A.OneOf([A.HueSaturationValue(), A.RGBShift()], p=0.3),
        A.RandomBrightnessContrast(p=0.5),
        A.CoarseDropout(num_holes_range=(1, 4), hole_height_range=(0.08, 0.2), hole_width_range=(0.08, 0.2),
                        fill=0, p=0.5),  # cutout
    ]


@PRESETS.register("randaugment")
def randaugment(cfg) -> list:
    """Flip, then `randaugment_n` operations of magnitude `randaugment_m` per picture
    (data_loader/randaugment.py; cutout is one of them)."""
    return _randaugment(cfg.randaugment_n, cfg.randaugment_m)


@PRESETS.register("custom")
def custom(cfg) -> list:
    """basic, then the transforms `augment_ops` names, e.g. {"name": "GaussNoise", "p": 0.3}."""
    steps = basic(cfg)
    for i, op in enumerate(cfg.augment_ops):
        args = dict(op)
        name = args.pop("name", None)
        cls = getattr(A, str(name), None)
        if not (isinstance(cls, type) and issubclass(cls, A.BasicTransform)):
            raise UserError(f"config knob 'augment_ops' item {i}: {name!r} is not an albumentations transform")
        try:
            with warnings.catch_warnings():  # albumentations only warns about a misspelt argument
                warnings.filterwarnings("error", message=".*not valid for transform")
                steps.append(cls(**args))
        except (TypeError, ValueError, UserWarning) as err:
            raise UserError(f"config knob 'augment_ops' item {i} ({name}): {str(err).splitlines()[0]}") from None
    return steps


def build_transform(cfg, train: bool) -> A.Compose:
    """The training pipeline of the configured preset, or the deterministic eval pipeline; both
    end in a uint8 CHW tensor (see `normalize`)."""
    middle = PRESETS.get(cfg.augment)(cfg) if train else []
    return A.Compose(resize(cfg) + middle + [ToTensorV2()], seed=cfg.seed)


def normalization(mean: Sequence[float], std: Sequence[float],
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The (scale, shift) of `normalize` as (3, 1, 1) tensors on `device`: build them once and
    reuse them (building them copies from the host, a wait for a GPU on every batch)."""
    scale = torch.tensor(std, device=device).mul(255).reciprocal()[:, None, None]
    shift = torch.tensor(mean, device=device).div(torch.tensor(std, device=device))[:, None, None]
    return scale, shift


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float],
              constants: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """A uint8 (N, 3, H, W) batch as floats, (x / 255 - mean) / std per channel; `constants`:
    `normalization(mean, std, images.device)`, made once.

    Done batch-wise after the copy to the device rather than per picture in the workers: a
    quarter of the bytes cross to the GPU, and the workers' CPU time goes to augmentation."""
    scale, shift = constants or normalization(mean, std, images.device)
    return images.float().mul_(scale).sub_(shift)
