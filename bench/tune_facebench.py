"""Search on real faces under a fixed budget, then retrain the winner under protocol P beside
the hand-made preset, and score both on the facebench eval set.

    python bench/tune_facebench.py [--trials 12] [--timeout 15] [--trial-minutes 3]
                                   [--search-size 48,48] [--seeds 42] [--facebench DIR] [--keep DIR]

1. `tune.py --config configs/best.py --space configs/space.py` on the facebench build, P's model
   (mobilenetv3_small_100 from scratch) at --search-size with --trial-minutes per trial (a cheaper
   proxy of P's 112x112: on 2 CPU cores a 112x112 epoch takes two minutes, so a trial of a few
   minutes would see one epoch and nothing could be pruned), until --trials or --timeout.
2. `bench/presets.py configs/best.py <study>/best.py --seeds ...`: both retrained under protocol P
   (112x112, 4 epochs), predicted and scored; one row per preset, seed and TTA, and the spread table.
Say a search "beat" the preset only when the difference exceeds the repeat-run spread
(docs/benchmarks.md, "The spread to beat").
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.errors import UserError, exit_on_user_error  # noqa: E402
from bench.facebench import built_facebench  # noqa: E402


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=15.0, help="minutes of search (default: %(default)s)")
    ap.add_argument("--trial-minutes", type=float, default=3.0)
    ap.add_argument("--search-size", default="48,48")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--facebench", default=str(ROOT.parent / "shared" / "facebench"))
    ap.add_argument("--keep", help="keep the study and the runs in this folder (default: a temporary one)")
    args = ap.parse_args()
    data = built_facebench(Path(args.facebench)).resolve()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep or scratch).resolve()
        studies = base / "studies"
        knobs = {"backbone": "mobilenetv3_small_100", "pretrained": "False", "weights_file": "''",
                 "image_size": args.search_size, "data_dir": repr(str(data)), "runs_dir": repr(str(studies)),
                 "plots": "False"}
        command = [sys.executable, "tune.py", "--config", "configs/best.py", "--space", "configs/space.py",
                   "--trials", str(args.trials), "--timeout", str(args.timeout),
                   "--trial-minutes", str(args.trial_minutes), *[a for k, v in knobs.items() for a in
                                                                  ("--set", f"{k}={v}")]]
        print("search: " + " ".join(command[1:]), flush=True)
        started = time.perf_counter()
        if subprocess.run(command, cwd=ROOT).returncode:
            raise UserError("tune.py stopped (its message is above)")
        study = max(studies.glob("tune-*"), key=lambda p: p.stat().st_mtime)
        print(f"search took {(time.perf_counter() - started) / 60:.1f} min; study {study}", flush=True)
        print((study / "trials.csv").read_text(), flush=True)
        if not (study / "best.py").is_file():
            raise UserError(f"{study}: no trial completed, so there is no best.py to retrain")
        done = subprocess.run([sys.executable, "bench/presets.py", "configs/best.py", str(study / "best.py"),
                               "--protocol", "P", "--seeds", *map(str, args.seeds), "--facebench", args.facebench,
                               "--keep", str(base / "retrained")], cwd=ROOT)
        if done.returncode:
            raise UserError("bench/presets.py stopped (its message is above)")


if __name__ == "__main__":
    main()
