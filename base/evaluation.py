"""The evaluation pass: a loader's pictures through a model without gradients, as (N, 18)
probabilities and a loss.

Validation, inference and the averaged weights' scores all go through `predict`. Each batch is
scored in every view of `tta` (model/tta.py) and the views' probabilities are averaged; the loss
is the plain view's, kept on the device and read once at the end, where the loader's rows have
targets (inference pictures have none). Under DDP each process scores its share and every one
gets all the probabilities back in table order. Autocast follows the `amp` knob, as in training.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

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
    views = build_views(tta, cfg.mean, cfg.std)
    probs, total, count = [], 0.0, 0
    dtype = amp_dtype(cfg.amp, device)
    autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
    bar = tqdm(total=len(loader.sampler), desc=desc, unit="img", leave=False, dynamic_ncols=True,
               disable=None if world.main else True)
    for images, targets in loader:
        images = trainer.to_device(images)
        batch = []
        for view in views:
            with autocast:
                outputs = {k: v.float() for k, v in model(view(images)).items()}
            batch.append(trainer.probabilities(outputs))
            if targets[0, 0] >= 0 and len(batch) == 1:  # the loss of the plain view, summed on the device
                soft = head_targets(targets.to(device), trainer.specs)
                total = total + trainer.loss(outputs, soft).double() * len(images)
                count += len(images)
        probs.append(torch.stack(batch).mean(0).cpu())
        bar.update(len(images))
    bar.close()
    total = float(total)  # one read, not one per batch
    probs = distributed.gather_ordered(torch.cat(probs).numpy(), len(loader.dataset), world)
    total, count = map(sum, zip(*distributed.gather((total, count), world), strict=True))
    return probs, (total / count if count else math.nan)
