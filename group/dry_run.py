"""`python train.py --dry-run`: everything a run needs, tried on one batch, with no run folder made.

It reads and checks every training image (and the eval folder), builds the trainer and its
model on the configured device, trains one batch and validates one through the trainer's own
fit() and hooks (split_tables and training_table included), in a temporary runs folder that is
removed afterwards. A run group is tried through its first member (a k-fold group its first
fold, pseudo-labelling its trainer without the pseudo labels, whose folders are checked to be
runs). With --resume it also reads the run's last.pt against the model. What it prints: the
images, the model, the loss of the batch, and the run folder a real run would make. Shared caches
may be filled on the way (the demo data, the memory-layout timing, hub weights).
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path

from base.config import Config
from base.errors import UserError
from base.run_dir import setup_logging
from data_loader.layout import data_root, read_eval
from group.registry import build, runner
from group.run_group import RunGroup
from predict import predictor

# One epoch (of one batch), nothing outside the temporary folder: no image cache on disk, no
# pictures, no TensorBoard or W&B run (W&B would open a run on its server).
ONE_EPOCH = {"epochs": 1, "time_limit_minutes": 0.0, "average_last": 0, "checkpoint": "best", "cache": "off",
             "plots": False, "tensorboard": False, "wandb": False, "checkpoint_every_steps": 0}


def dry_run(cfg: Config, resumed: Path | None = None) -> dict:
    started = time.perf_counter()
    check_writable(Path(cfg.runs_dir))
    if not read_eval(data_root(cfg)).shape[0]:
        raise UserError(f"data_dir {cfg.data_dir}: its eval/info.csv lists no images")
    for source in cfg.pseudo_from:  # pseudo-labelling starts by predicting with these
        predictor.load(Path(source))
    log, quiet, seen = logging.getLogger("mask18"), _WarningsOnly(), {}
    with tempfile.TemporaryDirectory(prefix="mask18-dry-run-") as tmp:
        trainer, what = _first_trainer(cfg, Path(tmp) / "group")
        rows = math.ceil(trainer.cfg.batch_size * trainer.world.size / trainer.cfg.sampler_share)
        own_split, own_rows = trainer.split_tables, trainer.training_table

        def one_batch_split():  # the trainer's own split (every image read), then one batch of validation
            train, val, folds = own_split()
            seen.update(train=len(train), val=len(val))
            return train, val.head(trainer.cfg.batch_size).copy(), folds

        def one_batch_rows(table):  # what the run trains on (drop_ages, pseudo labels), then one batch of it
            trained = own_rows(table)
            seen.update(trained=len(trained))
            return trained.head(rows).copy()

        trainer.split_tables = one_batch_split
        trainer.training_table = one_batch_rows
        if resumed is not None and trainer.read_last(resumed) is None:  # a checkpoint of another model fails here
            raise UserError(f"--resume {resumed}: no last.pt there, nothing to continue from")
        log.addFilter(quiet)  # fit()'s own lines would name the temporary folder
        try:
            row = trainer.fit(Path(tmp) / "run")
        finally:
            log.removeFilter(quiet)
            setup_logging()  # closes the log file inside the temporary folder
    folder = resumed or Path(cfg.runs_dir) / f"{cfg.name or _kind(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"
    params = sum(p.numel() for p in trainer.model.parameters())
    trained = "" if seen["trained"] == seen["train"] else f" ({seen['trained']} trained on: drop_ages, pseudo_labels)"
    log.info(f"dry run passed in {time.perf_counter() - started:.0f}s: {seen['train']} training{trained} and "
             f"{seen['val']} validation images read; {what}: {trainer.cfg.backbone} ({params / 1e6:.1f}M "
             f"parameters) on {trainer.device}; one batch trained (loss {row['train_loss']:.3f}) and one validated")
    log.info(f"a real run would {'continue' if resumed else 'make'} {folder}")
    return {"dry_run": True, "run_dir": str(folder), "train_loss": row["train_loss"]}


def _is_group(cfg: Config) -> bool:
    return issubclass(runner(cfg), RunGroup)


def _kind(cfg: Config) -> str:
    """The folder name a run of `cfg` gets without a `name`: its group's kind, or "run"."""
    return runner(cfg).kind if _is_group(cfg) else "run"


def _first_trainer(cfg: Config, group: Path):
    """The trainer of `cfg`'s first run (a group's first member, prepared in `group`), and what it is."""
    what = f"{cfg.trainer} trainer"
    while _is_group(cfg):
        if cfg.pseudo_from:
            cfg, what = cfg.replace(pseudo_from=[]), f"pseudo-labelling round 1 ({what})"
        else:
            runner = build(cfg)  # a group: it only keeps its config
            first = runner.plan()[0]
            group.mkdir(parents=True, exist_ok=True)
            cfg, what = runner.member_config(first, group), f"{runner.kind} member {first}"
    return build(cfg.replace(**ONE_EPOCH)), what


def check_writable(folder: Path) -> None:
    """`folder` exists as a writable folder, or can be made: its nearest existing parent is one."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise UserError(f"config knob 'runs_dir': {folder} cannot be made or written ({probe} is not a writable "
                        "folder); set runs_dir to a folder you can write")


class _WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING
