"""Mask, gender and age heads on one backbone; the 18 classes are their product (the age head
learns the age groups, or with age_target="years" the age in years: model/age_years.py)."""
from __future__ import annotations

import torch

from base.base_trainer import BaseTrainer
from model.heads import ATTRIBUTES, attribute_heads, combine_attributes
from trainer.registry import register_trainer


@register_trainer("multihead")
class MultiHeadTrainer(BaseTrainer):
    """Mask, gender and age heads on one backbone; the 18 classes are their product."""

    def __init__(self, cfg):
        self.heads = self.heads_of(cfg)
        super().__init__(cfg)

    @classmethod
    def heads_of(cls, cfg) -> dict[str, int]:
        return attribute_heads(cfg)  # the age head over years with age_target="years"

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return combine_attributes(*(self.specs[h].probabilities(outputs[h]) for h in ATTRIBUTES))
