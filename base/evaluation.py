"""The evaluation pass: a loader's pictures through a model without gradients, as (N, 18)
probabilities and a loss.

Validation, inference and the averaged weights' scores all go through `predict`. Each batch is
scored in every view of `tta` (model/tta.py) and the views' probabilities are averaged; the loss
is the plain view's, kept on the device and read once at the end, where the loader's rows have
targets (inference pictures have none). Under DDP each process scores its share and every one
gets all the probabilities back in table order. Autocast follows the `amp` knob, as in training;
a batch whose probabilities come out non-finite under it (fp16 overflows where a bf16 run is
predicted on a GPU without native bf16) is scored again in fp32, and the log says so once.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from tqdm import tqdm

from base import distributed
from base.base_data_loader import BaseDataLoader
from base.update import amp_dtype
from model.heads import head_targets
from model.tta import build_views


@torch.no_grad()
def predict(trainer, model: torch.nn.Module, loader: BaseDataLoader, desc: str = "predict",
            tta: Sequence[str] = ()) -> tuple[np.ndarray, float]:
    """(N, 18) probabilities of `model` in `loader`'s table order and the mean loss of the plain
    view (NaN without targets). `trainer` (a BaseTrainer) lends its hooks: to_device,
    probabilities and loss, with its heads, cfg, device and world."""
    cfg, device, world = trainer.cfg, trainer.device, trainer.world
    distributed.sync_buffers(model, world)  # every process scores rank 0's model, the one saved
    model.eval()
    views = build_views(tta, cfg.mean, cfg.std, cfg.tta_args)
    probs, total, count = [], 0.0, 0
    dtype = amp_dtype(cfg.amp, device)
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
    bar = tqdm(total=len(loader.sampler), desc=desc, unit="img", leave=False, dynamic_ncols=True,
               disable=None if world.main else True)
    redone = 0
    for images, targets in loader:
        images = trainer.to_device(images)
        batch, loss = _score(trainer, model, views, images, targets, autocast)
        if dtype is not None and not torch.isfinite(batch).all():  # on the host copy: no extra wait
            batch, loss = _score(trainer, model, views, images, targets, nullcontext())
            redone += 1
        probs.append(batch)
        if loss is not None:  # summed on the device
            total, count = total + loss, count + len(images)
        bar.update(len(images))
    bar.close()
    if redone:
        trainer.log.warning(f"{desc}: {redone} batch(es) gave non-finite probabilities in {str(dtype)[6:]}; "
                            "scored again in fp32")
    total = float(total)  # one read, not one per batch
    probs = distributed.gather_ordered(torch.cat(probs).numpy(), len(loader.dataset), world)
    total, count = map(sum, zip(*distributed.gather((total, count), world), strict=True))
    return probs, (total / count if count else math.nan)


def _score(trainer, model: torch.nn.Module, views: list, images: torch.Tensor, targets: torch.Tensor,
           autocast) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One batch: its probabilities averaged over the views (on the host), and the plain view's
    summed loss on the device (None without targets)."""
    batch, loss = [], None
    for view in views:
        with autocast:
            outputs = {k: v.float() for k, v in model(view(images)).items()}
        batch.append(trainer.probabilities(outputs))
        if targets[0, 0] >= 0 and len(batch) == 1:
            soft = head_targets(targets.to(images.device), trainer.specs)
            loss = trainer.loss(outputs, soft).double() * len(images)
    return torch.stack(batch).mean(0).cpu(), loss
