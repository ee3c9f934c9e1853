"""One 18-class head: the competition's baseline."""
from __future__ import annotations

import torch

from base.base_trainer import BaseTrainer
from data_loader.labels import NUM_CLASSES
from model.heads import head_probabilities
from trainer.registry import register_trainer


@register_trainer("single")
class SingleHeadTrainer(BaseTrainer):
    heads = {"class": NUM_CLASSES}

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return head_probabilities(outputs["class"], self.specs["class"].activation)
