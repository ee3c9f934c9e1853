"""Compare runs: one line per run, best first.

    python -m logger.report                       # every run under runs_dir (runs/)
    python -m logger.report runs/a-* runs/b-*     # these runs (a run group counts as one run)

Columns: run, trainer, backbone, loss, the knobs whose values differ between the listed runs,
the best epoch's validation macro F1 (18-class, mask, gender, age), best epoch / epochs done and
wall time. Runs are sorted by the metric each one monitored (its config's `monitor`; "auto" =
val_f1, val_f1_<task> for an "attribute" run), in its `monitor_mode`. Reads only config.json,
metrics.csv, group.json and summary.json, so it works on runs still training.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from base import config as config_lib
from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error
from logger.fingerprint import BOOKKEEPING

SHOWN = ("trainer", "backbone", "loss")  # always a column of their own
SCORES = {"f1": "val_f1", "mask": "val_f1_mask", "gender": "val_f1_gender", "age": "val_f1_age"}


def monitored(cfg: dict, columns) -> str:
    """The metric a run picked its best epoch by (a group's combined row: val_f1 unless it has the monitored)."""
    if cfg["monitor"] != "auto":
        return cfg["monitor"] if cfg["monitor"] in columns else "val_f1"
    return f"val_f1_{cfg['task']}" if cfg["trainer"] == "attribute" else "val_f1"


def read_run(folder: Path) -> dict:
    """What the report shows of one run or run group folder."""
    from base.group_file import GROUP_FILE  # here, not at the top: it imports torch, which --help does not need

    defaults = {k: default for k, (_, default) in config_lib.schema().items()}
    cfg = {**json.loads(json.dumps(defaults)), **json.loads((folder / "config.json").read_text())}
    metrics = pd.read_csv(folder / "metrics.csv") if (folder / "metrics.csv").is_file() else pd.DataFrame()
    monitor = monitored(cfg, metrics.columns)
    scored = metrics.dropna(subset=[monitor]) if monitor in metrics else metrics.iloc[:0]
    best = pd.Series(dtype=float)
    if len(scored):
        best = scored.loc[scored[monitor].idxmax() if cfg["monitor_mode"] == "max" else scored[monitor].idxmin()]
    members = json.loads((folder / GROUP_FILE).read_text())["members"] if (folder / GROUP_FILE).is_file() else []
    if members:  # a group has no best epoch of its own; epochs done: its longest member's
        done = max((len(pd.read_csv(m)) for m in (folder / name / "metrics.csv" for name in members)
                    if m.is_file()), default=0)
        epochs = f"-/{done}"
    else:
        epochs = f"{int(best['epoch']) if 'epoch' in best else '-'}/{len(metrics)}"
    summary = folder / "summary.json"
    wall = json.loads(summary.read_text()).get("wall_seconds") if summary.is_file() else None
    if wall is None:
        wall = float(metrics["seconds"].sum()) if "seconds" in metrics else math.nan
    return {"run": folder.name, "config": cfg, "monitor": monitor, "mode": cfg["monitor_mode"],
            "value": float(best.get(monitor, math.nan)),
            "scores": {k: float(best.get(c, math.nan)) for k, c in SCORES.items()},
            "epochs": epochs, "wall": wall}


def differing_knobs(configs: list[dict]) -> list[str]:
    """Knobs (other than the always-shown and bookkeeping ones) whose values are not all equal."""
    knobs = sorted(set().union(*configs)) if configs else []
    return [k for k in knobs if k not in BOOKKEEPING and k not in SHOWN
            and len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]


def table(runs: list[dict]) -> pd.DataFrame:
    """The report's rows, sorted: by monitored metric (most used first), best value first, unscored last."""
    uses = pd.Series([r["monitor"] for r in runs]).value_counts()

    def key(r):
        value = r["value"]
        return (-uses[r["monitor"]], r["monitor"], math.isnan(value),
                0 if math.isnan(value) else -value if r["mode"] == "max" else value)

    runs = sorted(runs, key=key)
    knobs = differing_knobs([r["config"] for r in runs])
    rows = []
    for r in runs:
        row = {"run": r["run"], **{k: _text(r["config"][k]) for k in SHOWN}}
        row.update({k: _text(r["config"].get(k)) for k in knobs})
        if len(uses) > 1:
            row["monitor"] = r["monitor"]
        row.update({k: _number(v) for k, v in r["scores"].items()})
        row.update({"best/epochs": r["epochs"], "wall": _duration(r["wall"])})
        rows.append(row)
    return pd.DataFrame(rows)


def find_runs(paths: list[str]) -> list[Path]:
    """The named run folders, or every run under runs_dir; a path that is no run is skipped with a note."""
    if not paths:
        root = Path(config_lib.load().runs_dir)
        found = sorted(p.parent for p in root.glob("*/config.json"))
        if not found:
            raise UserError(f"no runs in {root}/; train first (python train.py) or name run folders")
        return found
    found = []
    for path in map(Path, paths):
        if (path / "config.json").is_file():
            found.append(path)
        else:
            why = "no config.json (not a run folder)" if path.exists() else "no such folder"
            print(f"skipped {path}: {why}", file=sys.stderr)
    if not found:
        raise UserError("none of the given paths is a run folder (one holding config.json made by train.py)")
    return found


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 30 else text[:29] + "…"


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def _duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python -m logger.report", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("runs", nargs="*", default=argparse.SUPPRESS, metavar="RUN_DIR",
                    help="run or run group folders; none: every run under runs_dir (runs/)")
    return ap


@exit_on_user_error
def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    runs = [read_run(folder) for folder in find_runs(vars(args).get("runs", []))]
    frame = table(runs)
    monitors = sorted({(r["monitor"], r["mode"]) for r in runs})
    print(f"{len(runs)} run(s), best first by " + ", ".join(f"{m} ({mode})" for m, mode in monitors))
    print(frame.to_string(index=False))
    return frame


if __name__ == "__main__":
    main()
