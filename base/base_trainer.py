"""BaseTrainer: the engineering of training, shared by every experiment.

It owns the loop, devices (and DDP under torchrun), mixed precision, accumulation, clipping, EMA,
the optimizer and schedule, validation, checkpoints, resume, early stopping and metrics.csv. The
class is the loop and its hooks; each piece lives beside it, in base/: the data (training_data.py),
updates (update.py), the evaluation pass (evaluation.py), metrics.csv (epoch_metrics.py) and the
best epoch (monitor.py), checkpoints (trainer_state.py, checkpoint_files.py), the time limit
(time_budget.py), weight averaging (weight_average.py); a new feature lands there too. Callbacks
(callbacks.py) watch it: logger/ registers the pictures, summary.json, TensorBoard and W&B.
A subclass holds the science in a few hooks:

    heads                         {head name: outputs}, e.g. {"class": 18}
    probabilities(outputs)        (N, 18) class probabilities, whatever the heads
    loss(outputs, targets)        optional; by default the weighted sum of each head's
                                  configured loss; targets = {head: (N, C) probability rows}
    build_model(), training_table(table), split_tables()   optional
    auto_monitor(cfg)             classmethod: what monitor="auto" means (base/monitor.py)

Every model hands the rest of the system (N, 18) probabilities, so metrics, submissions and
ensembles never need to know about heads.
"""
from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from base import checkpoint_files, distributed, epoch_metrics, evaluation, memory_layout, run_dir, weight_average
from base.atomic import write_csv
from base.base_data_loader import BaseDataLoader
from base.base_model import BaseModel
from base.callbacks import Callbacks, build_callbacks
from base.config import Config
from base.device import configure_cudnn, seed_everything, seed_process
from base.epoch_progress import SYNC_EVERY, EpochProgress
from base.errors import UserError
from base.monitor import Monitor, Monitored
from base.optim import build_optimizer, head_lr
from base.run_dir import setup_logging
from base.time_budget import TimeBudget
from base.trainer_state import CheckpointMixin
from base.training_data import build_loader, training_rows
from base.update import amp_dtype, build_updater
from data_loader.demo_data import default_cache_dir
from data_loader.labels import encode
from data_loader.mixing import BatchMixer
from data_loader.photo_size import too_small_warning
from data_loader.split import load_split
from data_loader.transforms import normalization, normalize
from model.backbone import create_backbone
from model.heads import class_counts, head_specs, head_targets
from model.metric import validation_metrics
from model.model import FaceClassifier


class BaseTrainer(CheckpointMixin, Monitored):
    heads: dict[str, int] = {}

    @classmethod
    def heads_of(cls, cfg: Config) -> dict[str, int]:  # the heads under `cfg`, known before a trainer is made
        return dict(cls.heads)

    def __init__(self, cfg: Config):
        self.cfg, self.run, self.updater = cfg, None, None
        self.monitor = Monitor.of(cfg, type(self))
        self.specs = head_specs(cfg, self.heads)  # checks the head knobs now; fit() adds class weights
        self.mixer = BatchMixer(cfg.mix, cfg.mix_prob, cfg.mix_alpha, cfg.seed)
        self.device, self.world = distributed.join(cfg.device, cfg.ddp_backend)  # torchrun: cuda:LOCAL_RANK
        amp_dtype(cfg.amp, self.device)  # an impossible precision fails now
        configure_cudnn(self.device, cfg.cudnn_benchmark)  # before the layout timing below
        seed_everything(cfg.seed)
        self.model = self.build_model().to(self.device)
        seed_process(cfg.seed, self.world.rank)  # the same weights everywhere, then each process its own draws
        # channels_last "auto": rank 0 times both layouts once per machine (base/memory_layout.py)
        last, self.layout_note = distributed.broadcast(
            memory_layout.choose(cfg, self.model, self.device, amp_dtype(cfg.amp, self.device),
                                 default_cache_dir() / "memory_layouts.json") if self.world.main else None, self.world)
        self.memory_format = torch.channels_last if last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.log = setup_logging()
        self.callbacks = Callbacks([])  # fit() builds the configured ones (base/callbacks.py)
        self.extra_callbacks: list = []  # added to the configured ones by fit(), e.g. a tuner's reporter
        self.stop_reason: str | None = None  # set by stop(): no further epoch starts
        self._normalization = None  # (scale, shift) on the device, made by the first to_device()
        self.replan = False  # set by restore(): resumed under another time limit than the plan's

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
        return training_rows(self.cfg, table, self.world)

    def split_tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
        """(train rows, validation rows, person -> fold): persons never straddle the split."""
        return load_split(self.cfg)

    # ---- data -------------------------------------------------------------------------------
    def loader(self, table: pd.DataFrame, train: bool) -> BaseDataLoader:
        """Batches of `table` from the decoded-image cache; under DDP each process gets its share."""
        return build_loader(self.cfg, table, train, self.world, self.device)

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """A loader's uint8 batch on the device, normalised, in the configured memory format."""
        if self._normalization is None:  # made once: no host-to-device copy per batch
            self._normalization = normalization(self.cfg.mean, self.cfg.std, self.device)
        images = normalize(images.to(self.device, non_blocking=True), self.cfg.mean, self.cfg.std, self._normalization)
        return images.contiguous(memory_format=self.memory_format)

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self, run: Path | None = None, resume: bool = False) -> dict:
        """Train into `run` (default: a new folder under runs_dir), or with `resume` continue it
        from its last.pt; return the best epoch's metrics row.

        The data is read and checked before the run folder is created, so bad input leaves nothing;
        a new folder failing before its first checkpoint is removed; a complete run resumed returns at once.
        """
        cfg, self.started = self.cfg, time.perf_counter()
        saved = None  # (last.pt, its metrics rows): read by rank 0, for every process
        if resume and run is not None:  # another model's checkpoint fails here and changes nothing
            saved = self.agreed_last(Path(run))
            if saved and (best := self.complete(Path(run), *saved)) is not None:
                return best  # nothing to train: every file stays as it is
            self.keep_layout(saved[0] if saved else {})
        train_table, val_table, folds = self.split_tables()
        train_table = self.training_table(train_table)
        for what, table in (("training", train_table), ("validation", val_table)):
            if table.empty:
                raise UserError(f"no {what} images left after the split and filters; check data_dir, folds and fold")
        self.callbacks = Callbacks([*build_callbacks(cfg).items, *self.extra_callbacks] if self.world.main else [])
        self.run = distributed.on_rank_0(lambda: run_dir.prepare(run, resume, cfg.runs_dir, cfg.name or "run"),
                                         self.world)
        with run_dir.removed_without_checkpoint(self.run, fresh=not resume and self.world.main):
            self.log = setup_logging(self.run if self.world.main else None, quiet=not self.world.main)
            train_loader, val_loader = self.loader(train_table, train=True), self.loader(val_table, train=False)
            self.val_table, self.steps_per_epoch = val_table, len(train_loader)
            targets = torch.tensor(train_table[["mask", "gender", "age_group"]].to_numpy())
            self.specs = head_specs(cfg, self.heads, class_counts(targets, self.heads))  # train split only
            self.build_updater()
            self.history, self.best, self.stale, self.progress, start = [], None, 0, None, 1
            if saved is not None:
                start = self.restore(self.run / "last.pt", *saved)
            if self.world.main:
                run_dir.write_run_files(self.run, cfg, folds)
            self.log.info(f"run {self.run}: {len(train_table)} train / {len(val_table)} val images, "
                          f"{cfg.trainer} trainer, {cfg.backbone} on {self.device}"
                          + (f" x {self.world.size} processes" if self.world.enabled else ""))
            self.log.info(self.layout_note)
            if self.world.main and (warning := too_small_warning(train_table["file"].tolist(), cfg.image_size,
                                                                 cfg.face_crop)):
                self.log.warning(warning)
            self.callbacks.on_fit_start(self, train_table, val_table)
            self.train_epochs(train_loader, val_loader, start)
            if cfg.average_last:
                self.average_last_epochs(train_loader, val_loader)
        best = self.best_row()
        self.callbacks.on_fit_end(self, best)
        self.log.info(f"best {self.monitor.metric} {best[self.monitor.metric]:.4f} at epoch {best['epoch']} "
                      f"(val_f1 {best['val_f1']:.4f}); next: python inference.py --run {shlex.quote(str(self.run))}")
        return best

    def build_optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of self.model (a hook): the configured one, with the fine-tuning knobs'
        parameter groups; the schedule then scales each group's own lr (base/optim.py)."""
        return build_optimizer(self.model, self.cfg)

    def build_updater(self) -> None:
        """Optimizer, schedule, AMP, EMA; the model DDP-wrapped and compiled for training."""
        self.updater = build_updater(self.model, self.cfg, self.device, self.world, self.steps_per_epoch,
                                     self.monitor, self.build_optimizer())
        self.train_model = self.updater.train_model  # base/update.py

    def train_epochs(self, train_loader: BaseDataLoader, val_loader: BaseDataLoader, start: int) -> None:
        """Epochs `start`..epochs, until early stopping, the time limit or a callback's `stop()`;
        a restored self.progress resumes inside `start`."""
        startup = time.perf_counter() - self.started  # reading, checking and caching the images
        self.budget = TimeBudget.start(self.cfg.time_limit_minutes, startup, self.history, self.progress)
        if self.budget and self.replan and (note := self.budget.fit_resumed(self.updater.schedule, start - 1,
                                                                             self.cfg.epochs, self.world)):
            self.log.info(note)  # resumed under another time limit than the plan was made for
        self.record_stop(start - 1)  # one asked for in on_fit_start; end_epoch() records the others
        for epoch in range(start, self.cfg.epochs + 1):
            if self.cfg.patience and self.stale >= self.cfg.patience or epoch > self.updater.schedule.epochs:
                break
            if self.stop_reason:  # rank 0's callbacks decided for all, or last.pt kept their stop
                self.log.info(f"stopped after epoch {epoch - 1}: {self.stop_reason}")
                break
            if self.progress is None:
                self.progress = EpochProgress(epoch, lr=head_lr(self.updater.optimizer))
            train_loader.set_epoch(epoch, self.progress.step)
            self.train_epoch(train_loader, self.progress)
            row = {"epoch": epoch, "lr": self.progress.lr, **self.progress.metrics(self.world),
                   **self.validate(val_loader), "seconds": self.progress.seconds()}
            self.end_epoch(row)

    def train_epoch(self, loader: BaseDataLoader, progress: EpochProgress) -> None:
        """Train the rest of `progress.epoch` (all of it, or what a mid-epoch checkpoint left)."""
        self.train_model.train()
        epoch, every, updater = progress.epoch, self.cfg.checkpoint_every_steps, self.updater
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.cfg.epochs}", leave=False, dynamic_ncols=True,
                   disable=None if self.world.main else True, initial=progress.step, total=self.steps_per_epoch)
        for images, targets in bar:
            step = progress.step
            images = self.to_device(images)
            targets = targets.to(self.device, non_blocking=True)
            images, soft = self.mixer(images, head_targets(targets, self.specs), epoch, step)
            self.callbacks.on_train_batch(self, epoch, step, images)
            with updater.sync(step), updater.autocast():
                outputs = self.train_model(images)
                loss = self.loss(outputs, soft)
            with updater.sync(step):
                size = updater.backward(loss, step)  # batches in the update it made, or 0
            preds = self.probabilities({k: v.detach().float() for k, v in outputs.items()}).argmax(1)
            progress.add(loss, preds, encode(*targets[:, :3].T))  # stays on the device (base/epoch_progress.py)
            if progress.step % SYNC_EVERY == 0:  # the host waits for the device only here
                progress.flush()  # a non-finite loss stops the run here, at most SYNC_EVERY steps late
                bar.set_postfix(loss=f"{progress.mean_loss():.4f}")
            # A checkpoint inside the epoch: at the first update that crosses a multiple of `every` steps.
            if every and size and progress.step // every > (progress.step - size) // every \
                    and progress.step < self.steps_per_epoch:
                self.save_last(epoch - 1)
        progress.flush()

    def predict(self, loader: BaseDataLoader, desc: str = "predict",
                tta: Sequence[str] = ()) -> tuple[np.ndarray, float]:
        """(N, 18) probabilities in table order (averaged over the `tta` views), and the mean
        loss of the plain view where targets are known; under DDP gathered from every process.
        The weights validated (the EMA's when it is on) once training has begun; base/evaluation.py."""
        model = self.updater.eval_model if self.updater else self.model
        return evaluation.predict(self, model, loader, desc, tta)

    def validate(self, loader: BaseDataLoader) -> dict[str, float]:
        probs, loss = self.predict(loader, desc="validate")
        self.val_probs = probs  # for the callbacks at the end of the epoch
        return {"val_loss": loss, **validation_metrics(probs, self.val_table)}

    def end_epoch(self, row: dict) -> None:
        """Record the epoch: metrics.csv first, then best.pt and last.pt (so a resume never repeats rows)."""
        cfg, value = self.cfg, row[self.monitor.metric]
        improved = self.monitor.better(value, self.best)
        self.best = value if improved else self.best
        self.history.append(row)
        self.stale, self.progress = self.monitor.stale(self.history), None
        self.updater.schedule.epoch_end(value)
        # Under time_limit_minutes, the schedule is re-planned to the epochs that fit at the recent pace.
        replanned = self.budget and self.budget.fit_schedule(self.updater.schedule, row["epoch"], cfg.epochs,
                                                             self.world)
        if self.world.main:
            write_csv(self.run / "metrics.csv", pd.DataFrame(self.history, columns=list(epoch_metrics.METRICS)))
            if improved:
                checkpoint_files.save(self.run / "best.pt", self.state(row["epoch"], full=False))
        self.save_last(row["epoch"])
        if self.world.main:
            checkpoint_files.keep_last(self.run, row["epoch"], max(cfg.keep_last, cfg.average_last))
        distributed.barrier(self.world)  # no process runs ahead of rank 0's files
        self.log.info(f"epoch {row['epoch']}/{cfg.epochs}  train_loss {row['train_loss']:.4f}  "
                      f"{epoch_metrics.scores(row)}  {row['seconds']:.0f}s" + ("  *best" if improved else ""))
        if replanned:
            self.log.info(replanned)
        self.callbacks.on_epoch_end(self, row, improved, self.val_probs)
        self.record_stop(row["epoch"])  # a callback's stop(), kept in last.pt (base/trainer_state.py)
        if cfg.patience and self.stale >= cfg.patience:
            self.log.info(self.monitor.early_stop_line(cfg.patience))

    def average_last_epochs(self, train_loader: BaseDataLoader, val_loader: BaseDataLoader) -> dict | None:
        """averaged.pt: the mean of the last `average_last` epochs' validated weights, batch norm
        measured anew, validated (averaged.csv); base/weight_average.py."""
        return weight_average.average_last(self, train_loader, val_loader)

    def stop(self, reason: str) -> None:
        """Finish the epoch that is ending and start no other; fit() then ends as usual (best
        row, callbacks' on_fit_end), and last.pt keeps the stop, so a resume does not train on (as
        after early stopping). For callbacks (a tuner's pruner): rank 0 decides, every process stops."""
        self.stop_reason = reason

    def save_last(self, epoch: int) -> None:
        """last.pt after `epoch` finished epochs (and self.progress's steps of the next); every
        process takes part (DDP gathers each one's progress), rank 0 writes."""
        state = self.state(epoch, full=True)
        if self.world.main:
            checkpoint_files.save(self.run / "last.pt", state)

    def best_row(self) -> dict:
        """The metrics row of the best epoch by the monitored metric (NaNs before any epoch)."""
        return self.monitor.best_row(self.history)
