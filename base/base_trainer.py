"""BaseTrainer: the engineering of training, shared by every experiment.

It owns the loop, the device, optimizer and schedule, validation, best/last checkpoints,
resume, early stopping and metrics.csv; callbacks (base/callbacks.py) watch it: pictures,
summary.json, TensorBoard, W&B. A subclass holds the science in a few hooks:

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
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from base import checkpoint, run_dir
from base.atomic import write_csv, write_text
from base.base_data_loader import BaseDataLoader
from base.base_model import BaseModel
from base.callbacks import Callbacks, build_callbacks
from base.config import Config
from base.device import seed_everything, select_device
from base.errors import UserError
from base.optim import build_optimizer, build_scheduler
from base.run_dir import setup_logging
from data_loader.datasets import FaceDataset
from data_loader.labels import encode
from data_loader.split import load_split
from data_loader.transforms import build_transform
from model.backbone import create_backbone
from model.heads import head_specs, one_hot_targets
from model.metric import evaluate, macro_f1
from model.model import FaceClassifier

# Validation metrics score the official age groups; *_train_labels the configured age_thresholds.
METRICS = ("epoch", "lr", "train_loss", "train_f1", "val_loss", "val_f1", "val_acc",
           "val_f1_mask", "val_f1_gender", "val_f1_age", "val_f1_train_labels", "val_f1_age_train_labels",
           "seconds")


class BaseTrainer:
    heads: dict[str, int] = {}
    default_monitor = "val_f1"

    def __init__(self, cfg: Config):
        self.cfg, self.run = cfg, None
        self.monitor = self.default_monitor if cfg.monitor == "auto" else cfg.monitor
        if self.monitor not in METRICS[2:-1]:
            raise UserError(f"config knob 'monitor': {cfg.monitor!r} is not a metric; use auto or one of "
                            + ", ".join(METRICS[2:-1]))
        self.specs = head_specs(cfg, self.heads)
        self.device = select_device(cfg.device)
        seed_everything(cfg.seed)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.build_model().to(self.device, memory_format=self.memory_format)
        self.log = setup_logging()
        self.callbacks = Callbacks([])  # fit() builds the configured ones (base/callbacks.py)

    # ---- the science: subclasses override these -------------------------------------------
    def build_model(self) -> BaseModel:
        backbone = create_backbone(self.cfg.backbone, self.cfg.pretrained, self.cfg.weights_file)
        return FaceClassifier(backbone, self.heads, self.cfg.drop_rate)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(spec.weight * spec.loss(outputs[h], targets[h]) for h, spec in self.specs.items())

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def training_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows to train on (the train split by default); a hook for extra data."""
        return table

    def split_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
        """(train rows, validation rows, person -> fold): persons never straddle the split."""
        return load_split(self.cfg)

    # ---- data -------------------------------------------------------------------------------

    def loader(self, table: pd.DataFrame, train: bool) -> BaseDataLoader:
        dataset = FaceDataset(table, build_transform(self.cfg, train))
        return BaseDataLoader(dataset, self.cfg, train, pin_memory=self.device.type == "cuda")

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, run: Path | None = None, resume: bool = False) -> dict:
        """Train into `run` (default: a new folder under runs_dir), or with `resume` continue it
        from its last.pt; return the best epoch's metrics row.

        The data is read and checked before the run folder is created, so bad input leaves nothing.
        """
        cfg = self.cfg
        train_table, val_table, folds = self.split_tables()
        self.callbacks = build_callbacks(cfg)
        self.run = run_dir.prepare(run, resume, cfg.runs_dir, cfg.name or "run")
        self.log = setup_logging(self.run)
        write_text(self.run / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        roles = np.where(folds.to_numpy() == cfg.fold, "val", "train")
        write_csv(self.run / "split.csv", pd.DataFrame({"person": folds.index, "fold": folds, "role": roles}))
        train_loader = self.loader(self.training_table(train_table), train=True)
        val_loader = self.loader(val_table, train=False)
        self.val_labels = {"": val_table["official_label"].to_numpy(), "_train_labels": val_table["label"].to_numpy()}
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, len(train_loader))
        self.history, self.best, self.stale, start = [], None, 0, 1
        if resume and (self.run / "last.pt").exists():
            start = self.restore(self.run / "last.pt") + 1
        self.log.info(f"run {self.run}: {len(train_table)} train / {len(val_table)} val images, "
                      f"{cfg.trainer} trainer, {cfg.backbone} on {self.device}")
        self.callbacks.on_fit_start(self, train_table, val_table)
        for epoch in range(start, cfg.epochs + 1):
            if cfg.patience and self.stale >= cfg.patience:
                break
            started = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train_loader.set_epoch(epoch)
            row = {"epoch": epoch, "lr": lr, **self.train_epoch(train_loader, epoch), **self.validate(val_loader)}
            row["seconds"] = time.perf_counter() - started
            self.end_epoch(row)
        best = self.best_row()
        self.callbacks.on_fit_end(self, best)
        self.log.info(f"best {self.monitor} {best[self.monitor]:.4f} at epoch {best['epoch']} "
                      f"(val_f1 {best['val_f1']:.4f}); next: python inference.py --run {self.run}")
        return best

    def train_epoch(self, loader: BaseDataLoader, epoch: int) -> dict[str, float]:
        self.model.train()
        total, count, preds, labels = 0.0, 0, [], []
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.cfg.epochs}", leave=False, disable=None, dynamic_ncols=True)
        for step, (images, targets) in enumerate(bar):
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            targets = targets.to(self.device, non_blocking=True)
            self.callbacks.on_train_batch(self, epoch, step, images)
            outputs = self.model(images)
            loss = self.loss(outputs, one_hot_targets(targets, self.heads))
            if not torch.isfinite(loss):
                raise UserError(f"loss is {loss.item()} at epoch {epoch} step {step}; lower lr or check the data")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            total += loss.item() * len(images)
            count += len(images)
            preds.append(self.probabilities({k: v.detach() for k, v in outputs.items()}).argmax(1).cpu())
            labels.append(encode(*targets.T).cpu())
            if step % 10 == 0:
                bar.set_postfix(loss=f"{total / count:.4f}")
        f1 = macro_f1(torch.cat(labels).numpy(), torch.cat(preds).numpy()) if count else math.nan
        return {"train_loss": total / max(count, 1), "train_f1": f1}

    @torch.no_grad()
    def predict(self, loader: BaseDataLoader, desc: str = "predict") -> tuple[np.ndarray, float]:
        """(N, 18) probabilities in loader order, and the mean loss where targets are known."""
        self.model.eval()
        probs, total, count = [], 0.0, 0
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        for images, targets in tqdm(loader, desc=desc, leave=False, disable=None, dynamic_ncols=True):
            images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
            with autocast:
                outputs = self.model(images)
            outputs = {k: v.float() for k, v in outputs.items()}
            probs.append(self.probabilities(outputs).cpu())
            if targets[0, 0] >= 0:
                total += self.loss(outputs, one_hot_targets(targets.to(self.device), self.heads)).item() * len(images)
                count += len(images)
        return torch.cat(probs).numpy(), (total / count if count else math.nan)

    def validate(self, loader: BaseDataLoader) -> dict[str, float]:
        probs, loss = self.predict(loader, desc="validate")
        self.val_probs = probs  # for the callbacks at the end of the epoch
        row = {"val_loss": loss}
        for suffix, labels in self.val_labels.items():
            row.update({f"val_{k}{suffix}": v for k, v in evaluate(probs, labels).items()})
        return {k: v for k, v in row.items() if k in METRICS}

    def end_epoch(self, row: dict) -> None:
        """Record the epoch: metrics.csv first, then best.pt and last.pt (so a resume never repeats rows)."""
        cfg = self.cfg
        value = row[self.monitor]
        improved = self.best is None or (value > self.best if cfg.monitor_mode == "max" else value < self.best)
        self.best, self.stale = (value, 0) if improved else (self.best, self.stale + 1)
        self.history.append(row)
        write_csv(self.run / "metrics.csv", pd.DataFrame(self.history, columns=list(METRICS)))
        if improved:
            checkpoint.save(self.run / "best.pt", self.state(row["epoch"], full=False))
        checkpoint.save(self.run / "last.pt", self.state(row["epoch"], full=True))
        self.log.info(f"epoch {row['epoch']}/{cfg.epochs}  train_loss {row['train_loss']:.4f}  "
                      f"val_loss {row['val_loss']:.4f}  val_f1 {row['val_f1']:.4f}  "
                      f"(mask {row['val_f1_mask']:.3f} gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f})  "
                      f"{row['seconds']:.0f}s" + ("  *best" if improved else ""))
        self.callbacks.on_epoch_end(self, row, improved, self.val_probs)
        if cfg.patience and self.stale >= cfg.patience:
            self.log.info(f"early stop: no better {self.monitor} for {cfg.patience} epochs")

    def best_row(self) -> dict:
        key = self.monitor
        pick = max if self.cfg.monitor_mode == "max" else min
        if not self.history:
            return {key: math.nan, "epoch": 0, "val_f1": math.nan}
        return pick(self.history, key=lambda r: r[key])

    # ---- checkpoints ------------------------------------------------------------------------
    def state(self, epoch: int, full: bool) -> dict:
        state = {"model": self.model.state_dict(), "epoch": epoch, "config": self.cfg.to_dict(),
                 "trainer": self.cfg.trainer, "heads": dict(self.heads)}
        if full:
            state.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                         best=self.best, stale=self.stale, rng=checkpoint.rng_state())
        return state

    def load_weights(self, path: Path) -> dict:
        """Load a checkpoint's model weights; refuse one made for other heads or another backbone."""
        state = checkpoint.load(path)
        if state.get("heads") != dict(self.heads) or state.get("config", {}).get("backbone") != self.cfg.backbone:
            raise UserError(f"{path}: made for backbone {state.get('config', {}).get('backbone')!r} with heads "
                            f"{state.get('heads')}, not {self.cfg.backbone!r} with {dict(self.heads)}")
        self.model.load_state_dict(state["model"])
        return state

    def restore(self, path: Path) -> int:
        """Continue from last.pt: weights, optimizer, schedule, best/early-stop state, RNG; the epoch it ended."""
        state = self.load_weights(path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.best, self.stale = state["best"], state["stale"]
        checkpoint.set_rng_state(state["rng"])
        if (self.run / "metrics.csv").exists():
            rows = pd.read_csv(self.run / "metrics.csv")
            self.history = rows[rows["epoch"] <= state["epoch"]].to_dict("records")
        self.log.info(f"resumed from {path} after epoch {state['epoch']}")
        return state["epoch"]
