"""One model for one attribute (`task`): mask, gender or age alone.

Its (N, 18) probabilities hold the attribute's distribution with the other two uniform, so its
18-class F1 means little on its own: it monitors val_f1_<task>. Three of them, one per
attribute, make one prediction by their product (the "separate" trainer does that).
"""
from __future__ import annotations

import torch

from base.base_trainer import BaseTrainer
from model.heads import attribute_heads, attribute_only
from trainer.registry import register_trainer


@register_trainer("attribute")
class AttributeTrainer(BaseTrainer):
    """One model for one attribute, `task` (mask, gender or age), monitored on its own F1."""

    def __init__(self, cfg):
        self.task = cfg.task
        self.heads = self.heads_of(cfg)
        super().__init__(cfg)

    @classmethod
    def heads_of(cls, cfg) -> dict[str, int]:
        return attribute_heads(cfg, (cfg.task,))

    @classmethod
    def auto_monitor(cls, cfg) -> str:
        return f"val_f1_{cfg.task}"

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return attribute_only(self.specs[self.task].probabilities(outputs[self.task]), self.task)
