"""Mask, gender and age heads on one backbone; the 18 classes are their product."""
from __future__ import annotations

import torch

from base.base_trainer import BaseTrainer
from data_loader.labels import HEAD_SIZES
from model.heads import ATTRIBUTES, combine_attributes, head_probabilities
from trainer.registry import register_trainer


@register_trainer("multihead")
class MultiHeadTrainer(BaseTrainer):
    heads = dict(HEAD_SIZES)

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return combine_attributes(*(head_probabilities(outputs[h], self.specs[h].activation) for h in ATTRIBUTES))
