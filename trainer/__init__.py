"""Trainers by name. Every module in this folder is imported, so a new file registers itself:

    from trainer.registry import register_trainer   # `from trainer import ...` works as well
    @register_trainer("mine")
    class MyTrainer(SingleHeadTrainer): ...
"""
from __future__ import annotations

import importlib
import pkgutil

import logger  # noqa: F401  registers the watchers every training gets (summary.json, pictures, loggers)
from trainer.registry import TRAINERS, get_trainer, register_trainer

__all__ = ["TRAINERS", "build", "get_trainer", "register_trainer"]


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
