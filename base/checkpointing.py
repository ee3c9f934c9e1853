"""What a trainer writes into its checkpoints and how it continues from one.

A full checkpoint (last.pt) holds everything the next step depends on: the weights, every
resumable part (optimizer, schedule, and where they are on the AMP scaler and the EMA weights),
the epoch and, inside an epoch, its running totals (per process under DDP), the best metric,
the early-stop counter and the random states. Shuffling, augmentation and batch mixing are a
function of (seed, epoch, step), so nothing else is needed. best.pt holds the weights that were
validated (the EMA's when it is on) and the config.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from base import checkpoint
from base.distributed import gather
from base.epoch_progress import EpochProgress
from base.errors import UserError
from base.weight_average import validated_weights


class CheckpointMixin:
    def state(self, epoch: int, full: bool) -> dict:
        """`epoch` = epochs finished; inside an epoch, `step` batches of the next one are done too."""
        weights = self.model if full else self.updater.eval_model
        state = {"model": weights.state_dict(), "epoch": epoch, "config": self.cfg.to_dict(),
                 "trainer": self.cfg.trainer, "heads": dict(self.heads)}
        if full:
            progress = self.progress.state_dict() if self.progress else None
            state.update({name: part.state_dict() for name, part in self.updater.resumable().items()})
            state.update(best=self.best, stale=self.stale, rng=checkpoint.rng_state(),
                         step=self.progress.step if self.progress else 0,
                         progress=gather(progress, self.world) if self.world.enabled else progress)
        return state

    def load_weights(self, path: Path, for_inference: bool = False) -> dict:
        """Load a checkpoint's weights (for inference: the EMA's where last.pt has them); refuse
        one made for other heads or another backbone."""
        state = checkpoint.load(path)
        made = state.get("config", {}).get("backbone"), state.get("heads")
        if "model" not in state or made != (self.cfg.backbone, dict(self.heads)):
            raise UserError(f"{path}: made for backbone {made[0]!r} with heads {made[1]}, not {self.cfg.backbone!r} "
                            f"with {dict(self.heads)}; use the run folder it was trained in, or train anew")
        weights = validated_weights(state) if for_inference else state["model"]
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as err:
            raise UserError(f"{path}: its weights do not fit this {self.cfg.backbone!r} model "
                            f"({str(err).splitlines()[0]}); use the run folder it was trained in") from None
        return state

    def restore(self, path: Path, state: dict | None = None) -> int:
        """Continue from last.pt (`state`: its contents, already loaded into the model); return the
        epoch to train next (self.progress holds how far it got when the checkpoint was taken inside it)."""
        state = state or self.load_weights(path)
        for name, part in self.updater.resumable().items():
            if state.get(name) is None:
                raise UserError(f"{path}: holds no {name} state, so this configuration cannot continue it; "
                                "start a new run")
            part.load_state_dict(state[name])
        self.best, self.stale = state["best"], state["stale"]
        checkpoint.set_rng_state(state["rng"])
        progress = state.get("progress")
        if isinstance(progress, list):  # one per process of a DDP run
            if len(progress) != self.world.size:
                raise UserError(f"{path}: written inside an epoch by {len(progress)} processes; resume it with "
                                f"as many (torchrun --nproc_per_node={len(progress)})")
            progress = progress[self.world.rank]
        if progress:
            self.progress = EpochProgress.from_state(progress)
        if (self.run / "metrics.csv").exists():  # rows written after this checkpoint are redone
            rows = pd.read_csv(self.run / "metrics.csv")
            self.history = rows[rows["epoch"] <= state["epoch"]].to_dict("records")
        where = f"inside epoch {state['epoch'] + 1} at step {state['step']}" if state.get("step") else \
            f"after epoch {state['epoch']}"
        self.log.info(f"resumed from {path} {where}")
        return state["epoch"] + 1
