"""Batch mixing: CutMix, vertical CutMix, half-and-half and MixUp on whole training batches.

Every method pastes (or blends) the batch with a shuffled copy of itself and returns the share
`lam` of each image that is still its own; the targets of every head are mixed with the same
weight, `lam * own + (1 - lam) * other`, so mixing works with any trainer and any loss. `lam`
is the exact pixel share (boxes are cut at the border before it is computed).

Written here rather than borrowed: timm's Mixup mixes one target vector and knows neither
vertical strips nor half-and-half; this one mixes a dict of per-head targets. The draws come
from a generator seeded by (seed, epoch, step), so a resumed run mixes the same way.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from base.registry import Registry

Method = Callable[[torch.Tensor, torch.Tensor, float, np.random.Generator], tuple[torch.Tensor, float]]
MIXERS: Registry[Method] = Registry("mix method")


def _paste(images: torch.Tensor, other: torch.Tensor, y0: int, y1: int, x0: int, x1: int) -> tuple[torch.Tensor, float]:
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = other[:, :, y0:y1, x0:x1]
    height, width = images.shape[-2:]
    return mixed, 1.0 - (y1 - y0) * (x1 - x0) / (height * width)


@MIXERS.register("cutmix")
def cutmix(images, other, lam, rng):
    """A box of (1 - lam) of the area, centred anywhere, cut at the border."""
    height, width = images.shape[-2:]
    cut = np.sqrt(1.0 - lam)
    h, w = int(round(height * cut)), int(round(width * cut))
    cy, cx = rng.integers(height), rng.integers(width)
    y0, y1 = np.clip([cy - h // 2, cy - h // 2 + h], 0, height)
    x0, x1 = np.clip([cx - w // 2, cx - w // 2 + w], 0, width)
    return _paste(images, other, int(y0), int(y1), int(x0), int(x1))


@MIXERS.register("vertical_cutmix")
def vertical_cutmix(images, other, lam, rng):
    """A full-height strip (1 - lam) of the width: a face keeps its rows, eyes to chin."""
    height, width = images.shape[-2:]
    w = int(round(width * (1.0 - lam)))
    x0 = int(rng.integers(width - w + 1))
    return _paste(images, other, 0, height, x0, x0 + w)


@MIXERS.register("half")
def half_and_half(images, other, lam, rng):
    """Left half of one face, right half of another (lam is not drawn: it is the half)."""
    height, width = images.shape[-2:]
    return _paste(images, other, 0, height, width // 2, width)


@MIXERS.register("mixup")
def mixup(images, other, lam, rng):
    """Every pixel lam of one picture and 1 - lam of another."""
    return lam * images + (1.0 - lam) * other, lam


class BatchMixer:
    """Mixes a share `prob` of the batches it is given; `method` "none" or prob 0 leaves all alone."""

    def __init__(self, method: str, prob: float, alpha: float, seed: int):
        self.method = None if method == "none" else MIXERS.get(method)
        self.prob, self.alpha, self.seed = prob, alpha, seed

    def __call__(self, images: torch.Tensor, targets: dict[str, torch.Tensor], epoch: int,
                 step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.method is None or self.prob == 0:
            return images, targets
        rng = np.random.default_rng([self.seed, epoch, step])
        if rng.random() >= self.prob:
            return images, targets
        perm = torch.from_numpy(rng.permutation(len(images)))
        if images.is_cuda:  # from pinned memory, without the host waiting for the device
            perm = perm.pin_memory()
        perm = perm.to(images.device, non_blocking=True)
        mixed, lam = self.method(images, images[perm], float(rng.beta(self.alpha, self.alpha)), rng)
        return mixed, {h: lam * t + (1.0 - lam) * t[perm] for h, t in targets.items()}
