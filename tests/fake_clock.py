"""The time budget's fake clock: what the time-limit tests share."""
from __future__ import annotations

import itertools


def fake_laps(monkeypatch, laps: list[float]) -> None:
    """The time budget's clock: epoch i "takes" laps[i] seconds (the last one repeats)."""
    from base import time_budget

    times = iter(itertools.accumulate([0.0, *laps, *[laps[-1]] * 100]))
    monkeypatch.setattr(time_budget, "clock", lambda: next(times))
