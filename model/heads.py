"""Head decoding: whatever a model's heads, the rest of the system sees (N, 18) probabilities.

A softmax head gives a distribution. A sigmoid head (one-vs-rest) gives independent scores in
[0, 1]; they are divided by their sum so they can be combined and averaged like probabilities,
which keeps their order (and so the argmax). Mask, gender and age heads combine as
P(mask) * P(gender) * P(age) in the cell 6m + 3g + a; its argmax is the three argmaxes.
An age head may learn the exact age instead of the group (`age_target = "years"`,
model/age_years.py); its years are summed into the three groups here, so the (N, 18) table and
everything after it stay the same.

Targets reach the heads as an (N, 4) table: mask, gender, age_group and the age in years (-1
where unknown); HeadSpec.rows turns it into each head's (N, C) training rows.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from base.errors import UserError
from data_loader.labels import HEAD_SIZES, NUM_CLASSES, encode
from model import age_years
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


def attribute_heads(cfg, names: Sequence[str] = ATTRIBUTES) -> dict[str, int]:
    """{head: outputs} of attribute heads under the config: an age head has one output per year
    with age_target="years", else one per group."""
    years = cfg.age_target == "years"
    return {h: age_years.AGE_YEARS if h == "age" and years else HEAD_SIZES[h] for h in names}


def head_labels(targets: torch.Tensor, head: str) -> torch.Tensor:
    """Integer labels of one head from the (N, 3+) mask/gender/age_group[/age] targets."""
    if head == "class":
        return encode(*targets[:, :3].T)
    return targets[:, ATTRIBUTES.index(head)]


def label_count(head: str) -> int:
    """How many labels a head's targets have: 18 for "class", else the attribute's groups."""
    return NUM_CLASSES if head == "class" else HEAD_SIZES[head]


def class_counts(targets: torch.Tensor, heads: dict[str, int]) -> dict[str, torch.Tensor]:
    """Per-head label counts of a (N, 3+) target table (the training split's, for class weights);
    an age head over years is counted per group, as its class weights are."""
    return {h: torch.bincount(head_labels(targets, h), minlength=label_count(h)) for h in heads}


def head_targets(targets: torch.Tensor, specs: dict[str, HeadSpec]) -> dict[str, torch.Tensor]:
    """{head: (N, C) training rows} of an (N, 3+) target table, as each head's spec makes them:
    one-hot rows, or an age head's distribution over years; the form every loss (and batch
    mixing) works on."""
    return {h: spec.rows(targets) for h, spec in specs.items()}


def _one_hot_rows(head: str, n: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda targets: F.one_hot(head_labels(targets, head), n).float()


def _year_rows(sigma: float, thresholds: Sequence[int]) -> Callable[[torch.Tensor], torch.Tensor]:
    def rows(targets: torch.Tensor) -> torch.Tensor:
        ages = targets[:, 3] if targets.shape[1] > 3 else torch.full_like(targets[:, 2], -1)
        return age_years.year_rows(ages, targets[:, 2], sigma, thresholds)
    return rows


@dataclass(frozen=True)
class HeadSpec:
    activation: str  # "softmax" or "sigmoid"
    loss: Loss
    weight: float
    rows: Callable[[torch.Tensor], torch.Tensor]  # (N, 3+) targets -> (N, C) training rows
    groups: Callable[[torch.Tensor], torch.Tensor] | None = None  # years -> the 3 age groups

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The head's probabilities over its labels: the age groups for an age head over years."""
        probs = head_probabilities(logits, self.activation)
        return probs if self.groups is None else self.groups(probs)


def head_specs(cfg, heads: dict[str, int], counts: dict[str, torch.Tensor] | None = None) -> dict[str, HeadSpec]:
    """Activation, loss and loss weight of each head, from the config's head knobs; `counts`
    (per-head class counts of the training split) set the class weights."""
    family = {"class"} if "class" in heads else set(ATTRIBUTES)
    per_head = ["sigmoid_heads", "head_loss"] + (["class_weights"] if isinstance(cfg.class_weights, Mapping) else [])
    for knob in per_head:  # a head this trainer lacks would be ignored without a word
        stray = [h for h in cfg[knob] if h not in family]
        if stray:
            raise UserError(f"config knob {knob!r} names {', '.join(map(repr, stray))}, not a head of the "
                            f"{cfg.trainer!r} trainer (its heads: {', '.join(sorted(family))})")
    if cfg.age_target == "years" and "class" in heads:
        raise UserError(f"config knob 'age_target' = 'years' needs an age head, and the {cfg.trainer!r} trainer has "
                        "one 18-class head; use trainer='multihead' (or 'separate'), or age_target='group'")
    specs = {}
    for head, n in heads.items():
        activation = "sigmoid" if head in cfg.sigmoid_heads else "softmax"
        weight = cfg.head_weights.get(head, 1.0) if len(heads) > 1 else 1.0
        spec = cfg.head_loss.get(head, cfg.loss)
        if head == "age" and n == age_years.AGE_YEARS:
            specs[head] = _years_spec(cfg, activation, weight, spec, (counts or {}).get(head))
            continue
        loss = build_loss(spec, head, activation, cfg, (counts or {}).get(head))
        specs[head] = HeadSpec(activation, loss, weight, _one_hot_rows(head, n))
    return specs


def _years_spec(cfg, activation: str, weight: float, spec, counts: torch.Tensor | None) -> HeadSpec:
    """The age head over years: a softmax trained on label distributions, its class weights per group."""
    if activation == "sigmoid" or "f1" in ([spec] if isinstance(spec, str) else spec):
        raise UserError("config knob 'age_target' = 'years': the age head learns a distribution over years, so it "
                        "needs a softmax and a loss other than 'f1'; remove 'age' from sigmoid_heads and give it "
                        "head_loss={'age': 'ce'}, or use age_target='group'")
    thresholds = tuple(cfg.age_thresholds)
    loss = build_loss(spec, "age", activation, cfg, counts,
                      expand=lambda w: age_years.year_weights(w, thresholds))
    return HeadSpec(activation, loss, weight, _year_rows(cfg.age_sigma, thresholds),
                    lambda probs: age_years.group_probabilities(probs, thresholds))
