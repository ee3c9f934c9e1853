"""The report's tables: runs whose scores compare are ranked together, one block each.

Two runs compare when their scores measure the same thing: the same metric in the same direction,
on the same validation persons of the same data against the same labels (logger/fingerprint.py:
a k-fold group's out-of-fold score is on other persons than one fold's), and, for a loss, at the
same loss scale (tuning/space.py refuses to search the same knobs). Runs that differ in any of
these are separate blocks, each with a heading saying what its runs share: never one ranking
across them.
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass

import pandas as pd

from base.epoch_metrics import METRICS
from base.errors import UserError
from logger.fingerprint import BOOKKEEPING, LOSS_SCALE

SHOWN = ("trainer", "backbone", "loss")  # always a column of their own
SCORES = {"f1": "val_f1", "mask": "val_f1_mask", "gender": "val_f1_gender", "age": "val_f1_age"}
OWN = ("run", *SHOWN, *SCORES, "best/epochs", "wall")  # the report's own columns


@dataclass
class Block:
    shares: str       # what its runs share: the persons and data they were validated on, the metric
    runs: list[dict]  # best first, unscored last

    @property
    def heading(self) -> str:
        return f"{len(self.runs)} run(s) {self.shares}"

    @property
    def score(self) -> str:
        """The column of the metric its runs are ranked by."""
        metric = self.runs[0]["monitor"].metric
        return next((short for short, column in SCORES.items() if column == metric), metric)


def blocks(runs: list[dict]) -> list[Block]:
    """The runs in blocks of runs that compare, the largest block first, each ranked best first."""
    grouped: dict[tuple, list[dict]] = {}
    for run in runs:
        grouped.setdefault(_compares_by(run), []).append(run)
    ordered = sorted(grouped.items(), key=lambda item: -len(item[1]))  # equal sizes: in the order found
    return [Block(_shares(key), sorted(members, key=_rank)) for key, members in ordered]


def _compares_by(run: dict) -> tuple:
    """What must be equal for two runs' values to be ranked together."""
    cfg, metric = run["config"], run["monitor"].metric
    scale = tuple((k, json.dumps(cfg.get(k), sort_keys=True)) for k in LOSS_SCALE) if "loss" in metric else ()
    if metric.endswith("_train_labels"):  # scored against the training labels, which age_thresholds draw
        scale += (("age_thresholds", json.dumps(cfg.get("age_thresholds"))),)
    return str(run["monitor"]), run["persons"], run["data"], scale


def _shares(key: tuple) -> str:
    monitor, persons, data, scale = key
    same = "; " + ", ".join(f"{k} {json.loads(v)}" for k, v in scale) if scale else ""
    return f"validated on {persons}, data {data}{same}: best first by {monitor}"


def _rank(run: dict) -> tuple:
    return run["monitor"].order(run["value"])


def differing_knobs(configs: list[dict]) -> list[str]:
    """Knobs (other than the always-shown and bookkeeping ones) whose values are not all equal."""
    knobs = sorted(set().union(*configs)) if configs else []
    return [k for k in knobs if k not in BOOKKEEPING and k not in SHOWN
            and len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]


def default_columns(block: Block) -> list[str]:
    """run, trainer, backbone, loss, the knobs that differ inside the block, the ranked metric
    when it is none of the four scores, the scores, best epoch / epochs done, wall time."""
    ranked = [] if block.score in SCORES else [block.score]
    return ["run", *SHOWN, *differing_knobs([r["config"] for r in block.runs]), *ranked, *SCORES,
            "best/epochs", "wall"]


def check_columns(names: list[str], runs: list[dict]) -> None:
    """Refuse a --columns name that is none of the report's columns, metrics.csv's or a knob's."""
    metrics = metric_columns(runs)
    knobs = set().union(*(r["config"] for r in runs))
    unknown = [n for n in names if n not in OWN and n not in metrics and n not in knobs]
    if unknown:
        raise UserError(f"--columns: unknown {', '.join(map(repr, unknown))}; known: {', '.join(OWN)}, the "
                        f"metrics.csv columns ({', '.join(metrics)}) and any config knob (python train.py "
                        "--print-config lists them)")


def metric_columns(runs: list[dict]) -> list[str]:
    seen = [*METRICS, *(c for r in runs for c in r["best"])]
    return list(dict.fromkeys(seen))


def table(block: Block, columns: list[str] | None = None) -> pd.DataFrame:
    """The block's rows, best first: `columns`, or default_columns."""
    names = columns or default_columns(block)
    return pd.DataFrame([{name: cell(run, name) for name in names} for run in block.runs], columns=names)


def cell(run: dict, name: str) -> str:
    """What row `run` shows in column `name`: one of the report's own, a knob's value, or a
    metrics.csv column's value at the best epoch."""
    if name == "run":
        return run["run"]
    if name in SCORES:
        return _number(run["best"].get(SCORES[name]), digits=4)
    if name == "best/epochs":
        return run["epochs"]
    if name == "wall":
        return _duration(run["wall"])
    if name in run["config"]:  # "lr" is a knob and a metrics.csv column: the knob
        return _text(run["config"][name])
    return _number(run["best"].get(name))


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 30 else text[:29] + "…"


def _number(value, digits: int | None = None) -> str:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
        return "-"
    if digits is None and float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits or 4}f}" if digits or abs(value) >= 1e-3 else f"{value:.3g}"


def _duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
