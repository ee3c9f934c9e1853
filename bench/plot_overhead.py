"""What watching a run costs: seconds spent in the callbacks (plots, summary.json, loggers)
beside the seconds of training and validation, epoch by epoch, in one training run.

Both are measured in the same process on the same machine, so their ratio holds even on a
busy machine where the seconds themselves do not. Default: the demo configuration (config.py).

    python bench/plot_overhead.py [--set knob=value ...]     # e.g. --set epochs=3 --set tensorboard=True
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from base import config as config_lib  # noqa: E402
from trainer import get_trainer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        cfg = config_lib.load(overrides=[*args.set, f"runs_dir={runs}"])
        trainer = get_trainer(cfg.trainer)(cfg)
        trainer.fit()
        callbacks = trainer.callbacks
    print("| epoch | best | training + validation | callbacks | share |")
    print("|---|---|---|---|---|")
    best = None
    for row, spent in zip(trainer.history, callbacks.epoch_seconds, strict=True):
        value = row[trainer.monitor.metric]
        improved = trainer.monitor.better(value, best)
        best = value if improved else best
        print(f"| {row['epoch']} | {'*' if improved else ''} | {row['seconds']:.1f} s | {spent:.2f} s "
              f"| {spent / row['seconds']:.1%} |")
    epochs = sum(r["seconds"] for r in trainer.history)
    total = sum(callbacks.seconds.values())
    print(f"| all | | {epochs:.1f} s | {total:.2f} s (end of fit: {total - sum(callbacks.epoch_seconds):.2f} s) "
          f"| {total / epochs:.1%} |")
    print("per callback: " + ", ".join(f"{name} {s:.2f} s" for name, s in callbacks.seconds.items()))


if __name__ == "__main__":
    main()
