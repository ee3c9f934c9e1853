"""One 18-class head trained with cross-entropy: the competition's baseline."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from base.base_trainer import BaseTrainer
from data_loader.labels import NUM_CLASSES, encode
from trainer import register_trainer


@register_trainer("single")
class SingleHeadTrainer(BaseTrainer):
    heads = {"class": NUM_CLASSES}

    def loss(self, outputs: dict[str, torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs["class"], encode(*targets.T))

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return outputs["class"].softmax(dim=1)
