"""Train several variants of one config on the same data and split, and print a markdown table.

Shared by the comparison scripts in this folder; each names its variants as --set overrides.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base import config as config_lib  # noqa: E402
from group import build  # noqa: E402

COLUMNS = {"val F1 (18)": "val_f1", "mask": "val_f1_mask", "gender": "val_f1_gender", "age": "val_f1_age",
           ">=60": "val_f1_60plus"}


def parse_args(doc: str) -> list[str]:
    """--data DIR and --set knob=value from the command line, as --set overrides."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="applied to every variant")
    args = ap.parse_args()
    return args.set + ([f"data_dir={args.data}"] if args.data else [])


def train(overrides: list[str]) -> dict:
    """What `python train.py --set OVERRIDES` does: train config.py with them; the best epoch's row."""
    return build(config_lib.load(None, overrides)).fit()


def compare(variants: list[tuple[str, list[str]]], common: list[str]) -> None:
    """Train each variant (common overrides first, its own last) and print one row each."""
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for label, knobs in variants:
            started = time.perf_counter()
            best = train([*common, f"runs_dir={runs!r}", *knobs])
            rows.append((label, best, time.perf_counter() - started))
    print("| variant | " + " | ".join(COLUMNS) + " | wall time |")
    print("|---|" + "---|" * len(COLUMNS) + "---|")
    for label, best, seconds in rows:
        cells = " | ".join(f"{best.get(key, float('nan')):.4f}" for key in COLUMNS.values())
        print(f"| {label} | {cells} | {seconds:.0f} s |")
