"""A decision an inference keeps in a run folder (the decision offsets, the vote's), and the rule
for reusing it: only for the same key, that is, for the same predictions."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from base.atomic import write_text
from base.run_dir import setup_logging


class Kept:
    """For a dataclass with `key` and `figures` fields: its JSON file, written atomically."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    def save(self, path: Path) -> None:
        write_text(path, self.to_json())

    @classmethod
    def load(cls, path: Path):
        """The decision kept in `path`, or None when there is none that reads."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def kept_or_made(runs: list[Path], file: str, kind: type[Kept], key: dict, make: Callable[[], Kept], what: str):
    """A decision of `kind` kept in a single run's `file` for the same `key`, else `make()`'s,
    stamped with the key and its seconds and kept there for the next inference."""
    stored = kind.load(runs[0] / file) if len(runs) == 1 else None
    if stored is not None and stored.key == key:
        setup_logging().info(f"{what}: decided from validation earlier ({runs[0] / file})")
        return stored
    started = time.perf_counter()
    made = make()
    made.key = key
    made.figures["seconds"] = round(time.perf_counter() - started, 1)
    if len(runs) == 1:
        try:
            made.save(runs[0] / file)
        except OSError as error:  # a read-only run folder: nothing is lost but the time
            setup_logging().info(f"{what}: could not keep the decision in {runs[0]} ({error.strerror})")
    return made
