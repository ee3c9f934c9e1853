"""Head decoding: whatever a model's heads, the rest of the system sees (N, 18) probabilities.

A softmax head gives a distribution. A sigmoid head (one-vs-rest) gives independent scores in
[0, 1]; they are divided by their sum so they can be combined and averaged like probabilities,
which keeps their order (and so the argmax). Mask, gender and age heads combine as
P(mask) * P(gender) * P(age) in the cell 6m + 3g + a; its argmax is the three argmaxes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from base.errors import UserError
from data_loader.labels import HEAD_SIZES, NUM_CLASSES, encode
from model.loss import Loss, build_loss

ATTRIBUTES = tuple(HEAD_SIZES)  # ("mask", "gender", "age"), the order of the class coding


def head_probabilities(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """(N, C) probabilities of one head's logits; `activation` is "softmax" or "sigmoid"."""
    if activation == "sigmoid":
        scores = logits.float().sigmoid()
        return scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return logits.float().softmax(dim=1)


def combine_attributes(mask: torch.Tensor, gender: torch.Tensor, age: torch.Tensor) -> torch.Tensor:
    """(N, 18) from (N, 3), (N, 2), (N, 3): the outer product, laid out as 6m + 3g + a."""
    joint = mask[:, :, None, None] * gender[:, None, :, None] * age[:, None, None, :]
    return joint.reshape(len(mask), NUM_CLASSES)


def attribute_only(probs: torch.Tensor, attribute: str) -> torch.Tensor:
    """(N, 18) from one attribute's (N, C): the other two attributes uniform.

    The product of the three attribute-only tables of one image, renormalised, is exactly
    `combine_attributes`; that is how separately trained models make one prediction.
    """
    parts = [torch.full((len(probs), n), 1.0 / n, device=probs.device) for n in HEAD_SIZES.values()]
    parts[ATTRIBUTES.index(attribute)] = probs
    return combine_attributes(*parts)


HEAD_NAMES = ("class", *ATTRIBUTES)


def head_labels(targets: torch.Tensor, head: str) -> torch.Tensor:
    """Integer labels of one head from the (N, 3) mask/gender/age_group targets."""
    if head == "class":
        return encode(*targets.T)
    return targets[:, ATTRIBUTES.index(head)]


def one_hot_targets(targets: torch.Tensor, heads: dict[str, int]) -> dict[str, torch.Tensor]:
    """{head: (N, C) one-hot float targets}: the form every loss (and batch mixing) works on."""
    return {h: F.one_hot(head_labels(targets, h), n).float() for h, n in heads.items()}


@dataclass(frozen=True)
class HeadSpec:
    activation: str  # "softmax" or "sigmoid"
    loss: Loss
    weight: float


def head_specs(cfg, heads: dict[str, int]) -> dict[str, HeadSpec]:
    """Activation, loss and loss weight of each head, from the config's head knobs."""
    family = {"class"} if "class" in heads else set(ATTRIBUTES)
    for knob in ("sigmoid_heads", "head_loss"):
        stray = [h for h in cfg[knob] if h not in family]
        if stray:
            raise UserError(f"config knob {knob!r} names {', '.join(map(repr, stray))}, not a head of the "
                            f"{cfg.trainer!r} trainer (its heads: {', '.join(sorted(family))})")
    specs = {}
    for head in heads:
        activation = "sigmoid" if head in cfg.sigmoid_heads else "softmax"
        weight = cfg.head_weights.get(head, 1.0) if len(heads) > 1 else 1.0
        specs[head] = HeadSpec(activation, build_loss(cfg.head_loss.get(head, cfg.loss), activation, head), weight)
    return specs
