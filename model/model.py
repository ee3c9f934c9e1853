"""FaceClassifier: one timm backbone, one linear layer per head."""
from __future__ import annotations

import torch
from torch import nn

from base.base_model import BaseModel


class FaceClassifier(BaseModel):
    def __init__(self, backbone: nn.Module, heads: dict[str, int], drop_rate: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(drop_rate)
        # timm: pooled output width is head_hidden_size where a model has a pre-logits layer
        width = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        self.heads = nn.ModuleDict({name: nn.Linear(width, n) for name, n in heads.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.dropout(self.backbone(images))
        return {name: head(features) for name, head in self.heads.items()}
