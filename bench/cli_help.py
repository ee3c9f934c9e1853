"""How long `--help` takes for each command, and whether it imports torch.

    python bench/cli_help.py                 # each command 5 times, the median wall time
    python bench/cli_help.py --repeat 9

A user's first command is --help; it should answer before the heavy libraries load.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (["train.py"], ["inference.py"], ["tune.py"], ["-m", "data_loader.demo_data"],
            ["-m", "data_loader.verify"], ["-m", "data_loader.face_crop"], ["-m", "data_loader.audit"],
            ["-m", "logger.report"])
PROBE = "import runpy, sys; sys.argv = {argv!r}; {run}\n"


def timed(command: list[str]) -> tuple[float, bool]:
    """Wall seconds of `python COMMAND --help`, and whether torch was imported by then."""
    argv = [command[-1], "--help"]
    run = (f"runpy.run_module({command[1]!r}, run_name='__main__')" if command[0] == "-m"
           else f"runpy.run_path({command[0]!r}, run_name='__main__')")
    code = ("import atexit, sys; atexit.register(lambda: sys.stderr.write('TORCH=%d' % ('torch' in sys.modules)))\n"
            + PROBE.format(argv=argv, run=run))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, "TORCH=1" in done.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="runs per command; the median is printed")
    args = ap.parse_args()
    print(f"{'command':44} {'median s':>8} {'torch':>6}")
    for command in COMMANDS:
        runs = [timed(command) for _ in range(args.repeat)]
        name = "python " + " ".join(command) + " --help"
        print(f"{name:44} {statistics.median(s for s, _ in runs):8.2f} {'yes' if runs[-1][1] else 'no':>6}")


if __name__ == "__main__":
    main()
