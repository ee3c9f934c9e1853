"""RandAugment from albumentations' transforms: N operations drawn per picture, of magnitude M.

RandAugment (Cubuk et al., 2019) replaces a tuned augmentation policy by two numbers: how many
operations a picture gets (N) and how strong they are (M, here 0..10, 10 the strongest that
torchvision's RandAugment uses). albumentations has no RandAugment, but it has every operation
and `SomeOf`, which draws N of a list per picture; this file is that list, each operation's
strength scaled by M. A drawn operation's strength is uniform between none and M's (the paper
fixes it at M with a random sign): a picture is never pushed to the extreme every time.
The 1st-place team of the mask competition trained with RandAugment and cutout; cutout is one
of the operations here. No vertical flips or large rotations: faces are upright.
"""
from __future__ import annotations

import albumentations as A
import cv2

MAX_MAGNITUDE = 10


def operations(m: float) -> list:
    """The operation list at magnitude `m` (0..10)."""
    s = m / MAX_MAGNITUDE
    border = {"border_mode": cv2.BORDER_REFLECT_101}
    return [
        A.NoOp(),
        A.Affine(rotate=(-30 * s, 30 * s), p=1.0, **border),
        A.Affine(shear={"x": (-17 * s, 17 * s), "y": (0, 0)}, p=1.0, **border),
        A.Affine(shear={"x": (0, 0), "y": (-17 * s, 17 * s)}, p=1.0, **border),
        A.Affine(translate_percent={"x": (-0.3 * s, 0.3 * s), "y": (0, 0)}, p=1.0, **border),
        A.Affine(translate_percent={"x": (0, 0), "y": (-0.3 * s, 0.3 * s)}, p=1.0, **border),
        A.RandomBrightnessContrast(brightness_limit=(-0.9 * s, 0.9 * s), contrast_limit=(0, 0), p=1.0),
        A.RandomBrightnessContrast(brightness_limit=(0, 0), contrast_limit=(-0.9 * s, 0.9 * s), p=1.0),
        A.ColorJitter(brightness=0, contrast=0, saturation=(max(0.0, 1 - 0.9 * s), 1 + 0.9 * s), hue=0, p=1.0),
        A.Sharpen(alpha=(0.0, min(1.0, s)), lightness=(1.0, 1.0), p=1.0),
        A.Posterize(num_bits=(max(1, 8 - round(4 * s)), 8), p=1.0),
        A.Solarize(threshold_range=(1 - s, 1.0), p=1.0),
        A.AutoContrast(p=1.0),
        A.Equalize(p=1.0),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1 + 0.3 * s, 0.1 + 0.3 * s),
                        hole_width_range=(0.1 + 0.3 * s, 0.1 + 0.3 * s), fill=0, p=1.0),  # cutout
    ]


def randaugment(n: int, m: float) -> list:
    """Horizontal flip, then `n` operations of `operations(m)` drawn per picture."""
    return [A.HorizontalFlip(p=0.5), A.SomeOf(operations(m), n=n, replace=False, p=1.0)]
