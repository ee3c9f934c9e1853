"""summary.json: what a run has done so far, in one small file (the run report reads it).

    best epoch and its metrics, epochs done, finished or not, wall time, training images and
    images/s, config hash, data fingerprint

Wall time and images count from the start of training and add up over every resume: a resumed
run starts from what its summary.json said.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from base.atomic import write_text
from logger.fingerprint import config_hash, data_fingerprint


class RunSummary:
    """Started when fit starts (the run folder exists, resume is done); `count` the images trained
    on, `write` after every epoch and at the end."""

    def __init__(self, cfg, trainer, train_table: pd.DataFrame):
        self.cfg, self.run = cfg, trainer.run
        self.hashes = {"config_hash": config_hash(cfg), "data_fingerprint": data_fingerprint(train_table)}
        before = _read_json(self.run / "summary.json") if trainer.history else {}  # a resumed run
        self.before = (before.get("wall_seconds") or 0.0, before.get("train_images") or 0)
        self.started, self.images = time.perf_counter(), 0

    def count(self, images: int) -> None:
        self.images += images

    def write(self, trainer, finished: bool) -> None:
        wall = self.before[0] + time.perf_counter() - self.started
        images = self.before[1] + self.images
        best = trainer.best_row() if trainer.history else {}
        summary = {
            "run": self.run.name, "trainer": self.cfg.trainer, "backbone": self.cfg.backbone,
            "monitor": trainer.monitor.metric, "monitor_mode": trainer.monitor.mode,
            "best_epoch": best.get("epoch"), "best": best,
            "epochs_done": len(trainer.history), "epochs": self.cfg.epochs, "finished": finished,
            "wall_seconds": round(wall, 2), "train_images": images,
            "images_per_second": round(images / wall, 2) if wall > 0 else None,
            **self.hashes,
        }
        write_text(self.run / "summary.json", json.dumps(_no_nan(summary), indent=2) + "\n")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _no_nan(value):
    """JSON has no NaN: write null."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _no_nan(value.item())
    return value
