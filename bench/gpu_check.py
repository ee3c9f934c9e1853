"""The GPU check's sections; bench/gpu_check.sh runs each in its own process under its own time
limit (see its header for what each one answers).

    python bench/gpu_check.py SECTION --work DIR [--cpu]

Each section prints one verdict line per check, as soon as it is known:
    <check> PASS|FAIL|SKIP <numbers and the bar they were held to> [seconds]
and exits 1 when one of its checks failed (outside --cpu a SKIP too). Sections share nothing but
DIR: the demo data the `data` section makes there, and the runs they train there (inference
predicts precision's bf16 run, or trains one). `--cpu`: the plumbing on tiny sizes, on the CPU;
what needs CUDA says SKIP (needs CUDA). The sections live beside it: gpu_check_steps.py (one
update compared), gpu_check_runs.py (whole runs), gpu_check_ddp.py (torchrun).
"""
from __future__ import annotations

import argparse
import signal
import sys
import traceback
from pathlib import Path

from gpu_check_ddp import ddp
from gpu_check_kit import CHILDREN, DATA, PY, Check, Work, end_children, end_tree, finish, start
from gpu_check_runs import inference, precision, resume, speed, syncs
from gpu_check_steps import step


def data(work: Work, check: Check) -> None:
    """The demo sets every later section trains on, made once, side by side."""
    made = {}
    for name, (persons, eval_persons, size) in DATA[work.mode].items():
        if not (work.data(name) / "eval" / "answers.csv").exists():  # KEEP=DIR: made by an earlier check
            made[name] = start([PY, "-m", "data_loader.demo_data", "--out", str(work.data(name)), "--persons",
                                str(persons), "--eval-persons", str(eval_persons), "--size", ",".join(map(str, size))],
                               work.log(f"data-{name}"))
    errors = [e for name, p in made.items() if (e := finish(p, work.log(f"data-{name}")))]
    sizes = ", ".join(f"{name} {p}+{e} persons at {s[0]}x{s[1]}" for name, (p, e, s) in DATA[work.mode].items())
    check.judge("data", not errors, "; ".join(errors) or f"demo data: {sizes}")


SECTIONS = {"data": data, "step": step, "precision": precision, "resume": resume, "inference": inference,
            "syncs": syncs, "ddp": ddp, "speed-112": lambda w, c: speed(w, c, "112"),
            "speed-384": lambda w, c: speed(w, c, "384")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=list(SECTIONS))
    ap.add_argument("--work", type=Path, required=True, help="the folder the sections share")
    ap.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU; what needs CUDA says SKIP")
    args = ap.parse_args()
    work, check = Work(args.work, args.cpu), Check(args.cpu)
    signal.signal(signal.SIGTERM, end_children)
    try:
        SECTIONS[args.section](work, check)
    except Exception as err:  # a verdict all the same, the traceback below it
        check.say(args.section, "FAIL", f"crashed: {type(err).__name__}: {err}")
        traceback.print_exc()
    finally:
        for child in CHILDREN:
            end_tree(child)
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
