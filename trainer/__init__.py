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

__all__ = ["TRAINERS", "get_trainer", "register_trainer"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
