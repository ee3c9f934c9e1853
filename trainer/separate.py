"""Three models, one per attribute, trained in turn into one run group.

    runs/<name>-<time>/   config.json, group.json, metrics.csv (the combined validation),
                          confusion matrices, per-class F1 and error gallery of the combined model
        mask/  gender/  age/   ordinary "attribute" runs

The group predicts P(mask) * P(gender) * P(age) from its three members, so inference.py,
metrics and ensembles take the group folder like any run.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from base import predictor, run_dir
from base.atomic import write_csv, write_text
from base.config import Config
from base.run_artifacts import evaluation_plots, views
from base.run_dir import setup_logging
from data_loader.labels import HEAD_SIZES
from data_loader.split import load_split
from model.heads import ATTRIBUTES, head_specs
from model.metric import evaluate
from trainer import register_trainer
from trainer.attribute import AttributeTrainer


@register_trainer("separate")
class SeparateModels:
    """Not a BaseTrainer: it runs three of them and combines what they learnt."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.members = {task: self.member_config(task) for task in ATTRIBUTES}
        for task, member in self.members.items():
            head_specs(member, {task: HEAD_SIZES[task]})  # bad head knobs fail now, not after two models

    def member_config(self, task: str) -> Config:
        # An 18-class metric says nothing about one attribute: each model keeps its own best epoch.
        joint = ("auto", "val_f1", "val_acc", "val_f1_train_labels")
        monitor = "auto" if self.cfg.monitor in joint else self.cfg.monitor
        return self.cfg.replace(trainer="attribute", task=task, name=task, monitor=monitor)

    def fit(self, run: Path | None = None, resume: bool = False) -> dict:
        cfg = self.cfg
        _, val_table, _ = load_split(cfg)  # bad data fails before any folder is made
        group = run_dir.prepare(run, resume, cfg.runs_dir, cfg.name or "separate")
        write_text(group / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        predictor.write_group(group, "product", list(self.members))
        started = time.perf_counter()
        for task, member in self.members.items():
            folder = group / task
            AttributeTrainer(member).fit(folder, resume=resume and folder.is_dir())
        log = setup_logging(group)
        probs = predictor.load(group).predict(val_table)
        row = {f"val_{k}": v for k, v in evaluate(probs, val_table["official_label"].to_numpy()).items()}
        trained = evaluate(probs, val_table["label"].to_numpy())
        row.update(val_f1_train_labels=trained["f1"], val_f1_age_train_labels=trained["f1_age"],
                   seconds=time.perf_counter() - started)
        write_csv(group / "metrics.csv", pd.DataFrame([row]))
        if cfg.plots:  # the group's own pictures: its combined prediction, the one that is submitted
            evaluation_plots(group, probs, val_table, views(ATTRIBUTES), cfg.gallery_size, "three models combined")
        log.info(f"separate models combined: val_f1 {row['val_f1']:.4f} (mask {row['val_f1_mask']:.3f} "
                 f"gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f}); "
                 f"next: python inference.py --run {group}")
        return row
