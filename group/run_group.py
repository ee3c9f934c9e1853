"""RunGroup: member runs trained in turn into one folder that predicts as one model.

    <group>/config.json   the group's configuration
    <group>/group.json    {"kind", "combine", "members"}: how predict/predictor.py loads it
    <group>/metrics.csv   one row: the group's validation (what each kind means by it)
    <group>/<member>/     ordinary run folders (or groups themselves)

A subclass names its members (`plan`), gives each its configuration (`member_config`, which may
prepare files the member needs) and says how the group is validated (`validation`). The group's
own row is judged by val_f1, or by the column `monitor` names when the row has it
(base/monitor.py). Resuming a group resumes its members in order; finished members return at once.
"""
from __future__ import annotations

import json
import shlex
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from base import distributed, run_dir
from base.atomic import write_csv, write_text
from base.config import Config
from base.group_file import write_group
from base.monitor import Monitor, MonitoredGroup
from base.run_dir import setup_logging
from data_loader.split import load_split
from group.registry import build
from logger.run_artifacts import evaluation_plots, views
from model.heads import ATTRIBUTES
from model.metric import validation_metrics
from predict import predictor


class RunGroup(MonitoredGroup):
    kind = "group"
    combine = "mean"

    def __init__(self, cfg: Config):
        self.cfg, self.monitor = cfg, Monitor.of(cfg, type(self))

    def plan(self) -> list[str]:
        """Member folder names, in training order."""
        raise NotImplementedError

    def member_config(self, name: str, group: Path) -> Config:
        raise NotImplementedError

    def predicting_members(self) -> list[str]:
        """The members whose predictions make the group's (default: all)."""
        return self.plan()

    def validation(self, group: Path) -> tuple[pd.DataFrame, np.ndarray]:
        """(validation table, its (N, 18) probabilities) of the trained group; default: the
        configured split's validation persons, predicted by the whole group."""
        _, val_table, _ = load_split(self.cfg)
        return val_table, predictor.load(group).predict(val_table)

    def fit(self, run: Path | None = None, resume: bool = False) -> dict:
        """Train the members in turn into one group folder, then score the group. Under torchrun
        rank 0 makes the folder, prepares each member (its config, files it needs) and scores the
        group alone; every process trains each member together with the others."""
        cfg = self.cfg
        _, world = distributed.join(cfg.device, cfg.ddp_backend)
        group = distributed.on_rank_0(lambda: self.prepare(run, resume), world)
        started = time.perf_counter()
        with run_dir.removed_without_checkpoint(group, fresh=not resume and world.main):
            for name in self.plan():
                folder = group / name
                # A member folder exists when resuming, or when member_config prepared its inputs.
                member, again = distributed.on_rank_0(partial(self.prepared_member, name, group), world)
                build(member).fit(folder, resume=again)
        row = None
        if world.main:
            with distributed.alone():  # the other processes wait at the broadcast below
                row = self.score(group, started)
        return distributed.broadcast(row, world)

    def prepare(self, run: Path | None, resume: bool) -> Path:
        """The group folder with its config.json and group.json (rank 0); bad data fails before
        any folder is made."""
        load_split(self.cfg)
        group = run_dir.prepare(run, resume, self.cfg.runs_dir, self.cfg.name or self.kind)
        write_text(group / "config.json", json.dumps(self.cfg.to_dict(), indent=2) + "\n")
        write_group(group, self.kind, self.combine, self.predicting_members())
        return group

    def prepared_member(self, name: str, group: Path) -> tuple[Config, bool]:
        """(member `name`'s config, whether to resume it): what rank 0 hands every process."""
        with distributed.alone():  # e.g. pseudo-labelling predicts the eval images here
            member = self.member_config(name, group)
        return member, (group / name).is_dir()

    def score(self, group: Path, started: float) -> dict:
        """The group's validation row (metrics.csv) and pictures."""
        cfg = self.cfg
        log = setup_logging(group)
        table, probs = self.validation(group)
        row = {**validation_metrics(probs, table), "seconds": time.perf_counter() - started}
        write_csv(group / "metrics.csv", pd.DataFrame([row]))
        if cfg.plots:  # the group's own pictures: the prediction it makes (out of fold for k-fold)
            evaluation_plots(group, probs, table, views(ATTRIBUTES), cfg.gallery_size, f"{self.kind} group")
        log.info(f"{self.kind} group {group.name}: val_f1 {row['val_f1']:.4f} (mask {row['val_f1_mask']:.3f} "
                 f"gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f}); "
                 f"next: python inference.py --run {shlex.quote(str(group))}")
        return row
