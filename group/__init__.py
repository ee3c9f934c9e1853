"""Run groups: member runs trained in turn into one folder that predicts as one model.

    run_group.py   RunGroup, the base class: members (plan), their configs, the group's validation
    kfold.py       one run per person-grouped fold, validated out of fold       (kfold = True)
    pseudo.py      pseudo-labelling rounds                                      (pseudo_from = [...])
    separate.py    one model per attribute, predicting by their product        (trainer = "separate")
    registry.py    build(cfg): the group or trainer that trains a config

A group trains trainers and predicts with its members, so it sits above trainer/ and predict/.
Every module in this folder is imported, so a new group registers itself.
"""
from __future__ import annotations

import importlib
import pkgutil

from group.registry import GROUPS, build, register_group

__all__ = ["GROUPS", "build", "register_group"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
