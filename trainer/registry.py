"""The trainer registry: `@register_trainer("name")` adds a Trainer class, `get_trainer(name)` finds it.

The project's trainer files import these names from here, not from the package: the package
imports every trainer file, so a file importing the package would close a circle.
"""
from __future__ import annotations

from base.registry import Registry

TRAINERS: Registry = Registry("trainer")
register_trainer = TRAINERS.register


def get_trainer(name: str) -> type:
    """The Trainer class registered under `name` (UserError listing the known names)."""
    return TRAINERS.get(name)
