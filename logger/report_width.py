"""A report table narrowed to the terminal: long values shortened, or the least telling columns
left out, until its lines fit. The run and the metric the block is ranked by always stay.

Left out first: wall time, best epoch / epochs, trainer, backbone or loss where every run of the
block has the same, the per-head scores (age, gender, mask), the differing knobs from the last,
then the rest of trainer, backbone and loss.
"""
from __future__ import annotations

import pandas as pd

from logger.report_table import SCORES, SHOWN

SHORT = 12  # characters a shortened value keeps, "…" included


def width(frame: pd.DataFrame) -> int:
    return max(len(line) for line in frame.to_string(index=False).splitlines())


def fit(frame: pd.DataFrame, columns: int, ranked: str) -> tuple[pd.DataFrame, list[str]]:
    """(`frame` narrowed to `columns` characters where it can be, the columns left out): long
    values are shortened as soon as that alone makes it fit, else columns go one by one."""
    left_out, shortened = [], _shortened(frame, ranked)
    for name in [*_least_telling_first(frame, ranked), None]:
        if width(frame) <= columns:
            break
        if width(shortened) <= columns:
            return shortened, left_out
        if name is not None:
            frame, shortened = frame.drop(columns=name), shortened.drop(columns=name)
            left_out.append(name)
    return (frame if width(frame) <= columns else shortened), left_out


def _shortened(frame: pd.DataFrame, ranked: str) -> pd.DataFrame:
    """Knob values (and trainer, backbone, loss) cut to SHORT characters."""
    frame = frame.copy()
    for name in frame.columns:
        if name not in ("run", *SCORES, ranked, "best/epochs", "wall"):
            frame[name] = frame[name].map(lambda text: text if len(text) <= SHORT else text[:SHORT - 1] + "…")
    return frame


def _least_telling_first(frame: pd.DataFrame, ranked: str) -> list[str]:
    same = [c for c in SHOWN if c in frame and frame[c].nunique() <= 1]
    knobs = [c for c in frame.columns if c not in ("run", *SHOWN, *SCORES, ranked, "best/epochs", "wall")]
    order = ["wall", "best/epochs", *same, "age", "gender", "mask", "f1", *reversed(knobs),
             *(c for c in SHOWN if c not in same)]
    return [c for c in order if c in frame and c not in ("run", ranked)]
