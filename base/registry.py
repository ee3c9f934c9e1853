"""Name -> class/function tables, so the config names things as strings."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Generic, TypeVar

from base.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """`@REG.register("name")` adds an entry; `REG.get(name)` fails with the known names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            old = self._entries.get(name)
            if old is not None and _qualname(old) != _qualname(entry):  # a reload may replace itself
                raise ValueError(f"{self.kind} {name!r} is registered twice: {_qualname(old)}, {_qualname(entry)}")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UserError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))}")
        return self._entries[name]

    def keywords(self, name: str) -> list[str]:
        """The arguments an entry takes by name (a `**kwargs` catch-all aside)."""
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in inspect.signature(self.get(name)).parameters.values() if p.kind in kinds]

    def check_keywords(self, name: str, given: Mapping, knob: str, engine: Collection[str] = ()) -> None:
        """Refuse an argument `knob` gives entry `name` that it does not take, or that the engine
        passes itself (`engine`): a catch-all `**_` would swallow a misspelt one without a word."""
        takes = [k for k in self.keywords(name) if k not in engine]
        for key in given:
            if key not in takes:
                raise UserError(f"config knob {knob!r}: {self.kind} {name!r} takes no argument {key!r}; it takes "
                                f"{', '.join(takes) or 'none'}")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[T]:
        """Every entry, in the order they were registered."""
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def _qualname(entry: object) -> str:
    return f"{getattr(entry, '__module__', '?')}.{getattr(entry, '__qualname__', repr(entry))}"
