"""Trainers by name. Every module in this folder is imported, so a new file registers itself:

    from trainer import register_trainer
    @register_trainer("mine")
    class MyTrainer(SingleHeadTrainer): ...
"""
from __future__ import annotations

import importlib
import pkgutil

from base.registry import Registry

TRAINERS: Registry = Registry("trainer")
register_trainer = TRAINERS.register


def get_trainer(name: str) -> type:
    """The Trainer class registered under `name` (UserError listing the known names)."""
    return TRAINERS.get(name)


def build(cfg):
    """What trains this config: a k-fold group, a pseudo-labelling group, or the named trainer."""
    from trainer.kfold import KFold
    from trainer.pseudo import PseudoLabelling

    if cfg.kfold:
        return KFold(cfg)
    if cfg.pseudo_from:
        return PseudoLabelling(cfg)
    return get_trainer(cfg.trainer)(cfg)


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
