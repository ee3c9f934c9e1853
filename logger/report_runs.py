"""The runs a report shows: which folders are runs, and what the report reads of each one.

A path is a run (or run group) folder when it holds config.json; a folder that holds run folders
instead (runs_dir, a tune.py study folder with its trial-NNNN runs) stands for all of them. Only
config.json, metrics.csv, group.json and summary.json are read, so runs still training report
too; a run whose files are cut off or unreadable is left out with one line saying which file and
what is wrong with it, and the others are reported.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

from base import config as config_lib
from base.epoch_metrics import METRICS
from base.errors import UserError
from base.monitor import Monitor, Monitored, MonitoredGroup
from logger.fingerprint import validation_data, validation_persons


class Damaged(Exception):
    """A file of a run folder that cannot be read as train.py writes it."""

    def __init__(self, path: Path, what: str):
        super().__init__(f"{path} {what}")


def find_runs(paths: list[str]) -> list[Path]:
    """The run folders `paths` name (a folder of runs: each of its runs), or every run under
    runs_dir; a path that is neither is skipped with a note."""
    if not paths:
        root = Path(config_lib.load().runs_dir)
        found = runs_in(root)
        if not found:
            raise UserError(f"no runs in {root}/; train first (python train.py) or name run folders")
        return found
    found = []
    for path in map(Path, paths):
        if (path / "config.json").is_file():
            found.append(path)
        elif path.is_dir() and (inside := runs_in(path)):
            found.extend(inside)
        else:
            why = "no config.json (neither a run folder nor a folder of runs)" if path.exists() else "no such folder"
            print(f"skipped {path}: {why}", file=sys.stderr)
    if not found:
        raise UserError("none of the given paths is a run folder (one holding config.json made by train.py) "
                        "or a folder of runs (runs_dir, a tune.py study folder)")
    return found


def runs_in(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.glob("*/config.json"))


def read_runs(folders: list[Path]) -> list[dict]:
    """read_run of each folder; a damaged one is left out with a note."""
    runs = []
    for folder in folders:
        try:
            runs.append(read_run(folder))
        except Damaged as damaged:
            print(f"skipped {folder}: {damaged}; left out of the report", file=sys.stderr)
    if not runs:
        raise UserError("no run could be read (each is named above with what is wrong); "
                        "fix or remove those files, or name other runs")
    return runs


def read_run(folder: Path) -> dict:
    """What the report shows of one run or run group folder: its config, the monitored metric and
    the best epoch's metrics row, epochs done, wall time and what its scores compare with."""
    from base.group_file import GROUP_FILE  # here, not at the top: it imports torch, which --help does not need

    defaults = {k: default for k, (_, default) in config_lib.schema().items()}
    cfg = {**json.loads(json.dumps(defaults)), **_json(folder / "config.json", dict)}
    if not isinstance(cfg["monitor"], str) or cfg["monitor_mode"] not in ("max", "min"):
        raise Damaged(folder / "config.json", "has no valid monitor / monitor_mode; it was not written by train.py")
    metrics = _metrics(folder / "metrics.csv")
    is_group = (folder / GROUP_FILE).is_file()
    group = _json(folder / GROUP_FILE, dict) if is_group else {}
    summary = _json(folder / "summary.json", dict) if (folder / "summary.json").is_file() else {}
    monitor = monitored(folder, cfg, summary, is_group)
    scored = metrics.dropna(subset=[monitor.metric]) if monitor.metric in metrics else metrics.iloc[:0]
    best = monitor.best_row(scored.to_dict("records")) if len(scored) else {}
    members = group.get("members", [])
    if members:  # a group has no best epoch of its own; epochs done: its longest member's
        done = max((len(_metrics(folder / str(name) / "metrics.csv")) for name in members), default=0)
        epochs = f"-/{done}"
    else:
        epochs = f"{int(best['epoch']) if _finite(best.get('epoch')) else '-'}/{len(metrics)}"
    wall = summary.get("wall_seconds")
    if not _finite(wall):
        wall = float(metrics["seconds"].sum()) if "seconds" in metrics else math.nan
    return {"run": folder.name, "config": cfg, "monitor": monitor,
            "value": float(best.get(monitor.metric, math.nan)), "best": best, "epochs": epochs, "wall": wall,
            "persons": validation_persons(cfg), "data": validation_data(cfg)}


def monitored(folder: Path, cfg: dict, summary: dict, is_group: bool) -> Monitor:
    """What a run or run group was judged by (base/monitor.py): a group by its one validation row;
    a run by the metric its summary.json says it monitored, which is what its trainer made of
    "auto" (before the first epoch ends, "auto" reads as val_f1)."""
    recorded = summary.get("monitor") if not is_group and cfg["monitor"] == "auto" else None
    knobs = {**cfg, "monitor": recorded} if isinstance(recorded, str) else cfg
    try:
        return Monitor.of(knobs, MonitoredGroup if is_group else Monitored)
    except UserError:
        where = folder / ("config.json" if knobs is cfg else "summary.json")
        raise Damaged(where, f"names {knobs['monitor']!r} as the monitored metric, which is none") from None


def _json(path: Path, kind: type):
    try:
        value = json.loads(path.read_text())
    except OSError as error:
        raise Damaged(path, f"cannot be read ({error.strerror or error})") from None
    except ValueError as error:
        raise Damaged(path, f"is cut off or not JSON ({error})") from None
    if not isinstance(value, kind):
        raise Damaged(path, f"holds a {type(value).__name__}, not the {kind.__name__} train.py writes")
    return value


def _metrics(path: Path) -> pd.DataFrame:
    """metrics.csv (no file yet: no epoch finished), its metrics numbers."""
    if not path.exists():
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path)
    except OSError as error:
        raise Damaged(path, f"cannot be read ({error.strerror or error})") from None
    except pd.errors.EmptyDataError:
        raise Damaged(path, "is empty (not even its header line)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise Damaged(path, f"is not a CSV table ({str(error).splitlines()[0]})") from None
    for column in (c for c in frame.columns if c in METRICS):  # what train.py writes; other columns as they are
        try:
            frame[column] = pd.to_numeric(frame[column])
        except (TypeError, ValueError):
            raise Damaged(path, f"column {column!r} holds something other than numbers") from None
    return frame


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
