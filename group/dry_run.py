"""`python train.py --dry-run`: everything a run needs, tried on one batch, with nothing left behind.

It reads and checks every training image (and the eval folder), builds the trainer and its
model on the configured device, trains one batch and validates one through the trainer's own
fit() (so a subclass's hooks run too), in a temporary runs folder that is removed afterwards. A run
group is tried through its first member (a k-fold group its first fold, pseudo-labelling its
trainer without the pseudo labels). What it prints: the images, the model, the loss of the batch,
and the run folder a real run would make.
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
from data_loader.layout import data_root, read_eval
from data_loader.split import load_split
from group.registry import build
from group.run_group import RunGroup

# One epoch (of one batch), nothing outside the temporary folder: no image cache on disk, no
# pictures, no TensorBoard or W&B run (W&B would open a run on its server).
ONE_EPOCH = {"epochs": 1, "time_limit_minutes": 0.0, "average_last": 0, "checkpoint": "best", "cache": "off",
             "plots": False, "tensorboard": False, "wandb": False, "checkpoint_every_steps": 0}


def dry_run(cfg: Config, resumed: Path | None = None) -> dict:
    started = time.perf_counter()
    check_writable(Path(cfg.runs_dir))
    if not read_eval(data_root(cfg)).shape[0]:
        raise UserError(f"data_dir {cfg.data_dir}: its eval/info.csv lists no images")
    train, val, folds = load_split(cfg)  # reads the labels and decodes every training image
    first = build(cfg)
    name = cfg.name or (first.kind if isinstance(first, RunGroup) else "run")
    trainer, what = _first_trainer(cfg, first)
    rows = math.ceil(trainer.cfg.batch_size * trainer.world.size / trainer.cfg.sampler_share)
    own_rows = trainer.training_table
    trainer.split_tables = lambda: (train, val.head(trainer.cfg.batch_size).copy(), folds)
    trainer.training_table = lambda table: own_rows(table).head(rows).copy()
    log = logging.getLogger("mask18")
    quiet = _WarningsOnly()
    log.addFilter(quiet)  # fit()'s own lines would name the temporary folder
    try:
        with tempfile.TemporaryDirectory(prefix="mask18-dry-run-") as tmp:
            row = trainer.fit(Path(tmp) / "run")
    finally:
        log.removeFilter(quiet)
    folder = resumed or Path(cfg.runs_dir) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    params = sum(p.numel() for p in trainer.model.parameters())
    log.info(f"dry run passed in {time.perf_counter() - started:.0f}s: {len(train)} training and {len(val)} "
             f"validation images read; {what}: {trainer.cfg.backbone} ({params / 1e6:.1f}M parameters) on "
             f"{trainer.device}; one batch trained (loss {row['train_loss']:.3f}) and one validated")
    log.info(f"a real run would {'continue' if resumed else 'make'} {folder}")
    return {"dry_run": True, "run_dir": str(folder), "train_loss": row["train_loss"]}


def _first_trainer(cfg: Config, runner):
    """The trainer of `cfg`'s first run (a group's first member), and what it is."""
    what = f"{cfg.trainer} trainer"
    while isinstance(runner, RunGroup):
        if cfg.pseudo_from:
            cfg, what = cfg.replace(pseudo_from=[]), f"pseudo-labelling round 1 ({what})"
        else:
            first = runner.plan()[0]
            cfg, what = runner.member_config(first, Path(cfg.runs_dir)), f"{runner.kind} member {first}"
        runner = build(cfg)
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
