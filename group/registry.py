"""What trains a config: `build(cfg)` picks a k-fold group, a pseudo-labelling group, or the named
trainer (a group registered as a trainer, like "separate", included).

The group kinds chosen by their own knobs register here (`@register_group("kfold")`), so a group
can build members that are groups themselves without importing the modules that define them.
"""
from __future__ import annotations

from base.registry import Registry
from trainer import get_trainer  # the package: every trainer registered

GROUPS: Registry = Registry("run group")
register_group = GROUPS.register


def runner(cfg) -> type:
    """The class that trains `cfg`: a k-fold group when `kfold`, else a pseudo-labelling group when
    `pseudo_from`, else the trainer (which may be a group registered as one, like "separate")."""
    if cfg.kfold:
        return GROUPS.get("kfold")
    if cfg.pseudo_from:
        return GROUPS.get("pseudo")
    return get_trainer(cfg.trainer)


def build(cfg):
    """An instance of `runner(cfg)` for `cfg`."""
    return runner(cfg)(cfg)
