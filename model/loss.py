"""Losses by name. Each takes a head's logits (N, C) and probability targets (N, C): one-hot
rows for plain batches, mixed rows for CutMix/MixUp batches, so every loss works with mixing.

A loss is built per head, knowing the head's activation: "ce" is softmax cross-entropy on a
softmax head and binary (one-vs-rest) cross-entropy on a sigmoid head.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from base.registry import Registry

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: Registry[Callable[..., Loss]] = Registry("loss")


@LOSSES.register("ce")
def cross_entropy(activation: str, **_) -> Loss:
    if activation == "sigmoid":
        return lambda logits, target: F.binary_cross_entropy_with_logits(
            logits.float(), target, reduction="none").sum(dim=1).mean()
    return lambda logits, target: F.cross_entropy(logits.float(), target)


def build_loss(name: str, activation: str) -> Loss:
    """The named loss for one head."""
    return LOSSES.get(name)(activation=activation)
