"""What a run refuses before it reads any data, decided in one place for every command.

`check(cfg)` is called by `train.py` (a run, `--dry-run` and `--print-config` alike), `tune.py`
(the base and every trial) and `inference.py` (the run's configuration with the command's
changes), so a name, a per-head key or a missing package is refused with the same line wherever
it is met. It builds nothing heavy: no model, no data, no process group. `base/config.py` has
already checked each knob's type and range; this checks what needs the registries: the trainer
(and each member of a run group), its heads against the per-head knobs, the losses, the
augmentation preset and its transforms, the mixing method, the TTA views, the backbone's name and
weights file, and the packages the loggers and the face detector need.
"""
from __future__ import annotations

import torch

from base.callbacks import build_callbacks
from base.config import Config
from data_loader.face_detectors import Detector
from data_loader.image_cache import disk_folder
from data_loader.mixing import MIXERS
from data_loader.transforms import build_transform
from group.registry import runner
from group.run_group import RunGroup
from model.backbone import check_name
from model.heads import head_specs, label_count
from model.loss import check_loss_args
from model.tta import check_views
from trainer import get_trainer


def check(cfg: Config) -> None:
    """Raise the UserError the run would raise for `cfg`, or return."""
    runner(cfg)  # the trainer's name, and the group kind its knobs ask for
    _trainer(cfg)
    check_name(cfg.backbone, cfg.weights_file)
    build_transform(cfg, train=True)  # the preset by name, and each augment_ops transform
    if cfg.mix != "none":
        MIXERS.get(cfg.mix)
    tta(cfg.tta, cfg.tta_args)
    check_loss_args(cfg.loss_args)
    if cfg.face_crop != "off":
        Detector(cfg.face_crop)
    build_callbacks(cfg)  # each logger's package
    if cfg.cache == "disk":
        disk_folder(cfg)  # an output path: checked before the work starts


def tta(views: list[str], args: dict | None = None) -> None:
    """The TTA views by name, and the arguments `tta_args` gives them."""
    check_views(views, args)


def _trainer(cfg: Config) -> None:
    """The trainer's heads against the per-head knobs and losses; a group checks its members."""
    trainer = get_trainer(cfg.trainer)
    if issubclass(trainer, RunGroup):
        trainer(cfg)  # a group checks its members' configs when made (group/separate.py)
        return
    heads = trainer.heads_of(cfg)
    if not heads:  # a trainer that learns its heads only when made: the run checks them then
        return
    head_specs(cfg, heads, {h: torch.ones(label_count(h)) for h in heads})  # class weights by count, too

