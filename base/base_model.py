"""BaseModel: every model maps an image batch to a dict of named logits, one entry per head."""
from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn


class BaseModel(nn.Module):
    @abstractmethod
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per head, e.g. {"class": (N, 18)} or {"mask": (N, 3), "gender": (N, 2), "age": (N, 3)}."""

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def __str__(self) -> str:
        return f"{super().__str__()}\ntrainable parameters: {self.num_parameters():,}"
