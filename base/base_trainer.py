"""BaseTrainer: the engineering of training, shared by every experiment.

It owns the loop, the device, optimizer and schedule, validation, best/last checkpoints,
resume, early stopping and metrics.csv. A subclass holds the science in a few hooks:

    heads                         {head name: outputs}, e.g. {"class": 18}
    probabilities(outputs)        (N, 18) class probabilities, whatever the heads
    loss(outputs, targets)        optional; by default the weighted sum of each head's
                                  configured loss; targets = {head: (N, C) probability rows}
    build_model(), training_table(table), split_tables()   optional

Every model hands the rest of the system (N, 18) probabilities, so metrics, submissions and
ensembles never need to know about heads.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from base import checkpoint, run_dir
from base.atomic import write_csv, write_text
from base.base_data_loader import BaseDataLoader
from base.base_model import BaseModel
from base.config import Config
from base.device import seed_everything, select_device
from base.epoch_progress import EpochProgress
from base.errors import UserError
from base.optim import build_optimizer, build_scheduler
from base.run_dir import setup_logging
from data_loader import pseudo_labels
from data_loader.datasets import FaceDataset
from data_loader.labels import encode
from data_loader.layout import data_root
from data_loader.mixing import BatchMixer
from data_loader.samplers import EpochSampler, inverse_frequency
from data_loader.split import load_split
from data_loader.transforms import build_transform
from data_loader.verify import check_images
from model.backbone import create_backbone
from model.heads import class_counts, head_specs, one_hot_targets
from model.metric import validation_metrics
from model.model import FaceClassifier
from model.tta import build_views

# Validation metrics score the official age groups; *_train_labels the configured age_thresholds.
METRICS = ("epoch", "lr", "train_loss", "train_f1", "val_loss", "val_f1", "val_acc",
           "val_f1_mask", "val_f1_gender", "val_f1_age", "val_f1_60plus", "val_f1_train_labels",
           "val_f1_age_train_labels", "seconds")


class BaseTrainer:
    heads: dict[str, int] = {}
    default_monitor = "val_f1"

    def __init__(self, cfg: Config):
        self.cfg, self.run = cfg, None
        self.monitor = self.default_monitor if cfg.monitor == "auto" else cfg.monitor
        if self.monitor not in METRICS[2:-1]:
            raise UserError(f"config knob 'monitor': {cfg.monitor!r} is not a metric; use auto or one of "
                            + ", ".join(METRICS[2:-1]))
        self.specs = head_specs(cfg, self.heads)  # checks the head knobs now; fit() adds class weights
        self.mixer = BatchMixer(cfg.mix, cfg.mix_prob, cfg.mix_alpha, cfg.seed)
        self.device = select_device(cfg.device)
        seed_everything(cfg.seed)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.build_model().to(self.device, memory_format=self.memory_format)
        self.log = setup_logging()

    # ---- the science: subclasses override these -------------------------------------------
    def build_model(self) -> BaseModel:
        backbone = create_backbone(self.cfg.backbone, self.cfg.pretrained, self.cfg.weights_file)
        return FaceClassifier(backbone, self.heads, self.cfg.drop_rate)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(spec.weight * spec.loss(outputs[h], targets[h]) for h, spec in self.specs.items())

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def training_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows to train on: the train split, plus `pseudo_labels` rows; a hook for extra data."""
        if self.cfg.pseudo_labels:
            extra = pseudo_labels.training_rows(self.cfg.pseudo_labels, data_root(self.cfg))
            extra = check_images(extra, "pseudo-labelled", self.cfg.skip_bad_images)
            table = pd.concat([table, extra], ignore_index=True)
        return table

    def split_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
        """(train rows, validation rows, person -> fold): persons never straddle the split."""
        return load_split(self.cfg)

    # ---- data -------------------------------------------------------------------------------

    def loader(self, table: pd.DataFrame, train: bool) -> BaseDataLoader:
        cfg = self.cfg
        sampler = None
        if train and cfg.sampler == "weighted":
            column = {"class": "label", "age": "age_group"}.get(cfg.sampler_target, cfg.sampler_target)
            sampler = EpochSampler(len(table), cfg.seed, weights=inverse_frequency(table[column].to_numpy()))
        dataset = FaceDataset(table, build_transform(cfg, train))
        return BaseDataLoader(dataset, cfg, train, sampler=sampler, pin_memory=self.device.type == "cuda")

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, run: Path | None = None, resume: bool = False) -> dict:
        """Train into `run` (default: a new folder under runs_dir), or with `resume` continue it
        from its last.pt; return the best epoch's metrics row.

        The data is read and checked before the run folder is created, so bad input leaves nothing;
        a new folder that fails before its first checkpoint is removed again.
        """
        cfg = self.cfg
        train_table, val_table, folds = self.split_tables()
        train_table = self.training_table(train_table)
        for what, table in (("training", train_table), ("validation", val_table)):
            if table.empty:
                raise UserError(f"no {what} images left after the split and filters; check data_dir, folds and fold")
        saved = None
        if resume and run is not None and (Path(run) / "last.pt").exists():
            saved = self.load_weights(Path(run) / "last.pt")  # another model's checkpoint changes nothing
        self.run = run_dir.prepare(run, resume, cfg.runs_dir, cfg.name or "run")
        with run_dir.removed_without_checkpoint(self.run, fresh=not resume):
            self.log = setup_logging(self.run)
            train_loader = self.loader(train_table, train=True)
            val_loader = self.loader(val_table, train=False)
            self.val_table = val_table
            targets = torch.as_tensor(train_table[["mask", "gender", "age_group"]].to_numpy())
            self.specs = head_specs(cfg, self.heads, class_counts(targets, self.heads))  # train split only
            self.steps_per_epoch = len(train_loader)
            self.optimizer = build_optimizer(self.model, cfg)
            self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
            self.resumable = {"optimizer": self.optimizer, "scheduler": self.scheduler}
            self.history, self.best, self.stale, self.progress, start = [], None, 0, None, 1
            if saved is not None:
                start = self.restore(self.run / "last.pt", saved)
            write_text(self.run / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
            if cfg.corrections:  # the label fixes this run trained with, beside its config
                write_text(self.run / "corrections.csv", Path(cfg.corrections).read_text())
            roles = np.where(folds.to_numpy() == cfg.fold, "val", "train")
            write_csv(self.run / "split.csv", pd.DataFrame({"person": folds.index, "fold": folds, "role": roles}))
            self.log.info(f"run {self.run}: {len(train_table)} train / {len(val_table)} val images, "
                          f"{cfg.trainer} trainer, {cfg.backbone} on {self.device}")
            self.train_epochs(train_loader, val_loader, start)
        best = self.best_row()
        self.log.info(f"best {self.monitor} {best[self.monitor]:.4f} at epoch {best['epoch']} "
                      f"(val_f1 {best['val_f1']:.4f}); next: python inference.py --run {self.run}")
        return best

    def train_epochs(self, train_loader: BaseDataLoader, val_loader: BaseDataLoader, start: int) -> None:
        """Epochs `start`..epochs, until early stopping; a restored self.progress resumes inside `start`."""
        for epoch in range(start, self.cfg.epochs + 1):
            if self.cfg.patience and self.stale >= self.cfg.patience:
                break
            if self.progress is None:
                self.progress = EpochProgress(epoch, lr=self.optimizer.param_groups[0]["lr"])
            train_loader.set_epoch(epoch, self.progress.step)
            row = {"epoch": epoch, "lr": self.progress.lr, **self.train_epoch(train_loader, self.progress),
                   **self.validate(val_loader)}
            row["seconds"] = self.progress.seconds()
            self.end_epoch(row)

    def train_epoch(self, loader: BaseDataLoader, progress: EpochProgress) -> dict[str, float]:
        """Train the rest of `progress.epoch` (all of it, or what a mid-epoch checkpoint left)."""
        self.model.train()
        epoch, every = progress.epoch, self.cfg.checkpoint_every_steps
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.cfg.epochs}", leave=False, disable=None, dynamic_ncols=True,
                   initial=progress.step, total=self.steps_per_epoch)
        for images, targets in bar:
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            targets = targets.to(self.device, non_blocking=True)
            images, soft = self.mixer(images, one_hot_targets(targets, self.heads), epoch, progress.step)
            outputs = self.model(images)
            loss = self.loss(outputs, soft)
            if not torch.isfinite(loss):
                raise UserError(f"loss is {loss.item()} at epoch {epoch} step {progress.step}; "
                                "lower lr or check the data")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            preds = self.probabilities({k: v.detach() for k, v in outputs.items()}).argmax(1).cpu()
            progress.add(loss.item(), preds, encode(*targets.T).cpu())
            if progress.step % 10 == 1:
                bar.set_postfix(loss=f"{progress.loss_sum / progress.count:.4f}")
            if every and progress.step % every == 0 and progress.step < self.steps_per_epoch:
                checkpoint.save(self.run / "last.pt", self.state(epoch - 1, full=True))
        return progress.metrics()

    @torch.no_grad()
    def predict(self, loader: BaseDataLoader, desc: str = "predict",
                tta: Sequence[str] = ()) -> tuple[np.ndarray, float]:
        """(N, 18) probabilities in loader order (averaged over the `tta` views), and the mean
        loss of the plain view where targets are known."""
        self.model.eval()
        views = build_views(tta, self.cfg.mean, self.cfg.std)
        probs, total, count = [], 0.0, 0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        bar = tqdm(total=len(loader.dataset), desc=desc, unit="img", leave=False, disable=None, dynamic_ncols=True)
        for images, targets in loader:
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            batch = []
            for view in views:
                with autocast:
                    outputs = {k: v.float() for k, v in self.model(view(images)).items()}
                batch.append(self.probabilities(outputs))
                if targets[0, 0] >= 0 and len(batch) == 1:  # the loss of the plain view
                    soft = one_hot_targets(targets.to(self.device), self.heads)
                    total += self.loss(outputs, soft).item() * len(images)
                    count += len(images)
            probs.append(torch.stack(batch).mean(0).cpu())
            bar.update(len(images))
        bar.close()
        return torch.cat(probs).numpy(), (total / count if count else math.nan)

    def validate(self, loader: BaseDataLoader) -> dict[str, float]:
        probs, loss = self.predict(loader, desc="validate")
        return {"val_loss": loss, **validation_metrics(probs, self.val_table)}

    def end_epoch(self, row: dict) -> None:
        """Record the epoch: metrics.csv first, then best.pt and last.pt (so a resume never repeats rows)."""
        cfg = self.cfg
        value = row[self.monitor]
        improved = self.best is None or (value > self.best if cfg.monitor_mode == "max" else value < self.best)
        self.best, self.stale = (value, 0) if improved else (self.best, self.stale + 1)
        self.history.append(row)
        self.progress = None
        write_csv(self.run / "metrics.csv", pd.DataFrame(self.history, columns=list(METRICS)))
        if improved:
            checkpoint.save(self.run / "best.pt", self.state(row["epoch"], full=False))
        checkpoint.save(self.run / "last.pt", self.state(row["epoch"], full=True))
        checkpoint.keep_last(self.run, row["epoch"], cfg.keep_last)
        self.log.info(f"epoch {row['epoch']}/{cfg.epochs}  train_loss {row['train_loss']:.4f}  "
                      f"val_loss {row['val_loss']:.4f}  val_f1 {row['val_f1']:.4f}  "
                      f"(mask {row['val_f1_mask']:.3f} gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f})  "
                      f"{row['seconds']:.0f}s" + ("  *best" if improved else ""))
        if cfg.patience and self.stale >= cfg.patience:
            self.log.info(f"early stop: no better {self.monitor} for {cfg.patience} epochs")

    def best_row(self) -> dict:
        key = self.monitor
        pick = max if self.cfg.monitor_mode == "max" else min
        if not self.history:
            return {key: math.nan, "epoch": 0, "val_f1": math.nan}
        return pick(self.history, key=lambda r: r[key])

    # ---- checkpoints ------------------------------------------------------------------------
    # A full checkpoint (last.pt) holds everything the next step depends on: the weights, every
    # entry of self.resumable (name -> object with state_dict/load_state_dict: optimizer and
    # scheduler here; an AMP scaler or EMA weights add themselves to it where they are built),
    # the epoch and, inside an epoch, its progress, best metric, early-stop counter and the random
    # states. Shuffling and augmentation are a function of (seed, epoch), so nothing else is needed.
    def state(self, epoch: int, full: bool) -> dict:
        """`epoch` = epochs finished; inside an epoch, `step` batches of the next one are done too."""
        state = {"model": self.model.state_dict(), "epoch": epoch, "config": self.cfg.to_dict(),
                 "trainer": self.cfg.trainer, "heads": dict(self.heads)}
        if full:
            state.update({name: part.state_dict() for name, part in self.resumable.items()})
            state.update(best=self.best, stale=self.stale, rng=checkpoint.rng_state(),
                         step=self.progress.step if self.progress else 0,
                         progress=self.progress.state_dict() if self.progress else None)
        return state

    def load_weights(self, path: Path) -> dict:
        """Load a checkpoint's model weights; refuse one made for other heads or another backbone."""
        state = checkpoint.load(path)
        made = state.get("config", {}).get("backbone"), state.get("heads")
        if "model" not in state or made != (self.cfg.backbone, dict(self.heads)):
            raise UserError(f"{path}: made for backbone {made[0]!r} with heads {made[1]}, not {self.cfg.backbone!r} "
                            f"with {dict(self.heads)}; use the run folder it was trained in, or train anew")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise UserError(f"{path}: its weights do not fit this {self.cfg.backbone!r} model "
                            f"({str(err).splitlines()[0]}); use the run folder it was trained in") from None
        return state

    def restore(self, path: Path, state: dict | None = None) -> int:
        """Continue from last.pt (`state`: its contents, already loaded into the model); return the
        epoch to train next (self.progress holds how far it got when the checkpoint was taken inside it)."""
        state = state or self.load_weights(path)
        for name, part in self.resumable.items():
            if state.get(name) is None:
                raise UserError(f"{path}: holds no {name} state, so this configuration cannot continue it; "
                                "start a new run")
            part.load_state_dict(state[name])
        self.best, self.stale = state["best"], state["stale"]
        checkpoint.set_rng_state(state["rng"])
        if state.get("progress"):
            self.progress = EpochProgress.from_state(state["progress"])
        if (self.run / "metrics.csv").exists():  # rows written after this checkpoint are redone
            rows = pd.read_csv(self.run / "metrics.csv")
            self.history = rows[rows["epoch"] <= state["epoch"]].to_dict("records")
        where = f"inside epoch {state['epoch'] + 1} at step {state['step']}" if state.get("step") else \
            f"after epoch {state['epoch']}"
        self.log.info(f"resumed from {path} {where}")
        return state["epoch"] + 1
