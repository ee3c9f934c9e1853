"""One 18-class head: the competition's baseline."""
from __future__ import annotations

import torch

from base.base_trainer import BaseTrainer
from data_loader.labels import NUM_CLASSES
from trainer.registry import register_trainer


@register_trainer("single")
class SingleHeadTrainer(BaseTrainer):
    """One 18-class head: the competition's baseline."""
    heads = {"class": NUM_CLASSES}

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.specs["class"].probabilities(outputs["class"])
