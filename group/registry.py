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


def build(cfg):
    """A k-fold group when `kfold`, else a pseudo-labelling group when `pseudo_from`, else the trainer."""
    if cfg.kfold:
        return GROUPS.get("kfold")(cfg)
    if cfg.pseudo_from:
        return GROUPS.get("pseudo")(cfg)
    return get_trainer(cfg.trainer)(cfg)
