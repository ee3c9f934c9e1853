"""`average_last`: the mean of the last K epochs' validated weights, as its own checkpoint.

Averaging the weights a run passed through near its end (SWA-like, Izmailov et al., 2018) lands
in a flatter region than any one of them. The weights come from the epoch-NNN.pt files that
`keep_last` writes (the trainer keeps at least K of them), so a resumed run averages exactly
what an uninterrupted one would. Averaged weights do not match their averaged batch-norm
statistics, so those are measured anew on the training pictures (torch.optim.swa_utils.update_bn,
deterministic pipeline, no augmentation) before the average is validated and saved as
averaged.pt (what `inference.py --checkpoint averaged` loads) with its scores in averaged.csv.
"""
from __future__ import annotations

from pathlib import Path

import torch

from base import checkpoint


def validated_weights(state: dict) -> dict[str, torch.Tensor]:
    """The weights a checkpoint's run validated: the EMA's where it has them, else the model's."""
    if state.get("ema") is not None:  # timm's ModelEmaV3 keeps the model as .module
        return {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    return state["model"]


def mean_weights(weights: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several state dicts; integer buffers (batch counts) from the last."""
    out = {}
    for key, last in weights[-1].items():
        if last.is_floating_point():
            out[key] = torch.stack([w[key].float() for w in weights]).mean(0).to(last.dtype)
        else:
            out[key] = last.clone()
    return out


@torch.no_grad()
def recompute_batchnorm(model: torch.nn.Module, batches) -> None:
    """Batch-norm running statistics measured anew over `batches` (model-ready input tensors)."""
    torch.optim.swa_utils.update_bn(batches, model)


def mean_of_last(run: Path, epochs_done: int, k: int) -> tuple[list[int], dict[str, torch.Tensor]] | None:
    """(epochs, their mean validated weights) of the last `k` epoch-NNN.pt files of `run` among
    its first `epochs_done` epochs; None when there are none."""
    kept = [(e, p) for e, p in checkpoint.epoch_files(run) if e <= epochs_done][-k:]
    if not kept:
        return None
    return [e for e, _ in kept], mean_weights([validated_weights(checkpoint.load(p)) for _, p in kept])
