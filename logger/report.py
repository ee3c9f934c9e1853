"""Compare runs: one line per run, best first, in blocks of runs whose scores compare.

    python -m logger.report                       # every run under runs_dir (runs/)
    python -m logger.report runs/a-* runs/b-*     # these runs (a run group counts as one run)
    python -m logger.report runs/tune-x-20261203-010000   # a folder of runs: a study's trials
    python -m logger.report --columns run,lr,val_acc,f1 --csv runs.csv

Columns: run, trainer, backbone, loss, the knobs whose values differ between the runs of a block,
the best epoch's validation macro F1 (18-class, mask, gender, age), best epoch / epochs done and
wall time; --columns picks others (any metrics.csv column, at the best epoch, or any knob).
Runs are ranked by the metric each one monitored (its config's `monitor`; for "auto" what its
summary.json says the trainer made of it: val_f1, val_f1_<task> for an "attribute" run), in its
`monitor_mode`; a run group by its validation row: the monitored column when the row has it, else
val_f1 (max). A run is ranked only against runs validated on the same persons and labels with the
same metric: other runs are another block, with its own heading.
On a terminal the table fits its width (the columns left out are named); --csv writes them all.
Reads only config.json, metrics.csv, group.json and summary.json, so it works on runs still
training; a run whose files are damaged is left out with one line naming the file.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pandas as pd

from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error
from logger import report_table, report_width
from logger.report_runs import find_runs, read_runs


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python -m logger.report", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("runs", nargs="*", default=argparse.SUPPRESS, metavar="RUN_DIR",
                    help="run or run group folders, or folders of runs (a tune.py study folder); none: every "
                    "run under runs_dir (runs/)")
    ap.add_argument("--columns", type=_names, metavar="A,B,C",
                    help="these columns, in this order: run, trainer, backbone, loss, f1, mask, gender, age, "
                    "best/epochs, wall, any metrics.csv column (its value at the best epoch) or any knob")
    ap.add_argument("--csv", type=Path, metavar="FILE", help="also write the table to this CSV file (every column, "
                    "with a compared_on column when there are several blocks)")
    return ap


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no column; write e.g. run,lr,f1")
    return names


def check_output(path: Path) -> None:
    """--csv must be a file this process can write, said before any run is read."""
    if path.is_dir():
        raise UserError(f"--csv {path} is a folder; give a file name, e.g. {path / 'report.csv'}")
    if not path.parent.is_dir():
        raise UserError(f"--csv {path}: no folder {path.parent}; make it first or give another place")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"--csv {path}: cannot be written (no permission); give a writable place")


def terminal_columns() -> int | None:
    """The terminal's width when the report goes to one; None when it is piped or redirected."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


@exit_on_user_error
def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    if args.csv:
        check_output(args.csv)
    runs = read_runs(find_runs(vars(args).get("runs", [])))
    if args.columns:
        report_table.check_columns(args.columns, runs)
    blocks = report_table.blocks(runs)
    columns, left_out, frames = terminal_columns() if not args.columns else None, [], []
    for number, block in enumerate(blocks):
        frame = report_table.table(block, args.columns)
        shown, dropped = report_width.fit(frame, columns, block.score) if columns else (frame, [])
        left_out += [c for c in dropped if c not in left_out]
        print(("\n" if number else "") + block.heading)
        print(shown.to_string(index=False))
        frames.append(frame.assign(compared_on=block.shares) if len(blocks) > 1 else frame)
    if left_out:
        print(f"left out to fit the terminal's {columns} columns: {', '.join(left_out)} "
              "(--columns picks columns; --csv FILE writes them all)")
    frame = pd.concat(frames, ignore_index=True)
    if args.csv:
        from base.atomic import write_csv  # here: it imports torch, which --help does not need

        write_csv(args.csv, frame)
    return frame


if __name__ == "__main__":
    main()
