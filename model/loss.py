"""Losses by name. Each takes a head's logits (N, C) and probability targets (N, C): one-hot
rows for plain batches, mixed rows for CutMix/MixUp batches, so every loss works with mixing.

A loss is built per head, knowing the head's activation: "ce" is softmax cross-entropy on a
softmax head and binary (one-vs-rest) cross-entropy on a sigmoid head. A loss that makes sense
for one activation only says so with `@supports(...)`, and a config pairing it with the other
fails at start-up.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from base.errors import UserError
from base.registry import Registry

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: Registry[Callable[..., Loss]] = Registry("loss")
ACTIVATIONS = ("softmax", "sigmoid")


def supports(*activations: str) -> Callable:
    """Declare the head activations a loss works with (undeclared: both)."""
    def declare(factory: Callable[..., Loss]) -> Callable[..., Loss]:
        factory.activations = activations
        return factory

    return declare


@LOSSES.register("ce")
def cross_entropy(activation: str, **_) -> Loss:
    if activation == "sigmoid":
        return lambda logits, target: F.binary_cross_entropy_with_logits(
            logits.float(), target, reduction="none").sum(dim=1).mean()
    return lambda logits, target: F.cross_entropy(logits.float(), target)


def build_loss(name: str, activation: str, head: str = "class") -> Loss:
    """The named loss for one head; a loss that does not support the head's activation is refused."""
    factory = LOSSES.get(name)
    supported = getattr(factory, "activations", ACTIVATIONS)
    if activation not in supported:
        fix = f"remove {head!r} from sigmoid_heads" if activation == "sigmoid" else f"add {head!r} to sigmoid_heads"
        raise UserError(f"config knobs 'loss'/'head_loss': loss {name!r} works on {' or '.join(supported)} heads "
                        f"only, but head {head!r} is a {activation} head; {fix}, or give {head!r} another loss "
                        f"with head_loss")
    return factory(activation=activation)
