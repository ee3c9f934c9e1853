"""`average_last`: the mean of the last K epochs' validated weights, as its own checkpoint.

Averaging the weights a run passed through near its end (SWA-like, Izmailov et al., 2018) lands
in a flatter region than any one of them. The weights come from the epoch-NNN.pt files that
`keep_last` writes (the trainer keeps at least K of them), so a resumed run averages exactly
what an uninterrupted one would. Averaged weights do not match their averaged batch-norm
statistics, so those are measured anew on the training pictures (torch.optim.swa_utils.update_bn,
deterministic pipeline, no augmentation) before the average is validated and saved as
averaged.pt (what `inference.py --checkpoint averaged` loads) with its scores in averaged.csv
(`average_last`, at the end of a BaseTrainer's fit).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from base import checkpoint_files, distributed
from base.atomic import write_csv
from base.base_data_loader import BaseDataLoader
from base.epoch_metrics import scores
from base.training_data import unaugmented


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
    kept = [(e, p) for e, p in checkpoint_files.epoch_files(run) if e <= epochs_done][-k:]
    if not kept:
        return None
    return [e for e, _ in kept], mean_weights([validated_weights(checkpoint_files.load(p)) for _, p in kept])


def average_last(trainer, train_loader: BaseDataLoader, val_loader: BaseDataLoader) -> dict | None:
    """averaged.pt and averaged.csv of `trainer`'s run (a BaseTrainer at the end of fit): the mean
    of the last `average_last` epochs' validated weights in its validated model, batch norm
    measured anew on the training pictures, validated. Rank 0 reads the files; every process
    ends with the same weights. Returns the averaged.csv row (None: no epoch files kept)."""
    cfg, world, run = trainer.cfg, trainer.world, trainer.run
    averaged = distributed.on_rank_0(lambda: mean_of_last(run, len(trainer.history), cfg.average_last), world)
    if averaged is None:
        return None
    kept, weights = averaged
    model = trainer.updater.eval_model
    model.load_state_dict(weights)
    recompute_batchnorm(model, (trainer.to_device(images)
                                for images, _ in unaugmented(cfg, train_loader, trainer.device)))
    epochs = f"{kept[0]}-{kept[-1]}" if len(kept) > 1 else str(kept[0])
    row = {"epochs": epochs, **trainer.validate(val_loader)}
    if world.main:
        checkpoint_files.save(run / "averaged.pt", {**trainer.state(kept[-1], full=False), "averaged_epochs": kept})
        write_csv(run / "averaged.csv", pd.DataFrame([row]))
    trainer.log.info(f"averaged epochs {epochs}: {scores(row)}; saved averaged.pt (inference.py --checkpoint averaged)")
    distributed.barrier(world)
    return row
