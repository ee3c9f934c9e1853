"""One 18-class head vs mask/gender/age heads vs three separate models, on equal terms.

Each way trains with the same config (the defaults: the demo data, or --data DIR), the same
split and the same epochs per model; "separate (equal compute)" gives each of its three models
a third of the epochs. Prints a markdown table of the validation macro F1 (18-class and per
head, official age groups) and the wall time.

    python bench/compare_heads.py [--data DIR] [--set knob=value ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train  # noqa: E402
from base import config as config_lib  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    args = ap.parse_args()
    sets = args.set + ([f"data_dir={args.data}"] if args.data else [])
    epochs = config_lib.load(overrides=sets).epochs
    ways = [("single (18-class head)", ["trainer=single"]),
            ("multihead (3 heads, 1 backbone)", ["trainer=multihead"]),
            ("separate (3 models)", ["trainer=separate"]),
            ("separate (equal compute)", ["trainer=separate", f"epochs={max(1, epochs // 3)}"])]
    rows = []
    with tempfile.TemporaryDirectory() as runs:
        for label, knobs in ways:
            started = time.perf_counter()
            best = train.main([a for o in [*sets, f"runs_dir={runs}", *knobs] for a in ("--set", o)])
            rows.append((label, best, time.perf_counter() - started))
    print("| way | val F1 (18) | mask | gender | age | wall time |")
    print("|---|---|---|---|---|---|")
    for label, best, seconds in rows:
        print(f"| {label} | {best['val_f1']:.4f} | {best['val_f1_mask']:.4f} | {best['val_f1_gender']:.4f} "
              f"| {best['val_f1_age']:.4f} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
