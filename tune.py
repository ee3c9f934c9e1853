"""Search hyper-parameters with Optuna: every trial an ordinary run, pruned early, resumable.

    python tune.py --config configs/best.py --space configs/space.py --trials 40
    python tune.py --config configs/best.py --space configs/space.py --trials 40 --workers 2
    python tune.py --resume runs/tune-best-20261203-010000          # after a crash, kill or Ctrl-C
    python train.py --config runs/tune-best-20261203-010000/best.py  # the winner, as an experiment file

--config and --set make the base of every trial, as for train.py; the space file's space(trial)
returns the knobs a trial changes. The study folder is <runs_dir>/tune-<name>-<time>/ (see
tuning/study_dir.py for what is in it). Needs the extra: pip install -e ".[tune]".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from base import cli_knobs
from base import config as config_lib
from base.cli_types import HelpFormatter, count
from base.errors import ArgumentParser, UserError, exit_on_user_error
from tuning import engine  # light: Optuna itself is imported by engine.optuna()


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more minutes")
    return value


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python tune.py", description=__doc__, formatter_class=HelpFormatter)
    cli_knobs.add_knob_arguments(ap, what="every trial's base")
    ap.add_argument("--space", help="search space file with def space(trial) (e.g. configs/space.py)")
    ap.add_argument("--trials", type=count, help="trials to run in all, complete, pruned or failed, trial 0 (the "
                    "base config) among them; a trial interrupted from outside runs again and does not count")
    ap.add_argument("--max-failures", type=count, help="stop the study, exit status 2, once this many trials in a row "
                    "failed (default 5; 0 = never)")
    ap.add_argument("--timeout", type=_minutes, help="start no trial after this many minutes")
    ap.add_argument("--trial-minutes", type=_minutes, help="time_limit_minutes of every trial, fixed for the "
                    "study's life (best.py keeps the base's)")
    ap.add_argument("--sampler", default="tpe", help="Optuna sampler: tpe, random, cmaes, gp, qmc, ... "
                    "(default: %(default)s)")
    ap.add_argument("--pruner", default="asha", choices=engine.PRUNERS, help="(default: %(default)s)")
    ap.add_argument("--workers", type=count, help="processes on this machine (default 1); each takes the next GPU "
                    "of CUDA_VISIBLE_DEVICES in turn and its share of the CPU cores")
    ap.add_argument("--storage", help="an Optuna RDB URL (postgresql://..., sqlite:///...) shared by several "
                    "machines (default: a journal file in the study folder)")
    ap.add_argument("--study-name", help="the study's name in --storage; every machine passes the same")
    ap.add_argument("--resume", type=Path, metavar="STUDY_DIR", help="go on with this study folder")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # one process of --workers
    ap.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    return ap


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = cli_knobs.parse(build_parser(), argv)
    if args.resume or args.worker:
        given = [f"--{k}" for k in ("config", "space", "storage", "study_name") if getattr(args, k)] + \
            (["--set"] if args.overrides else [])
        if given:
            raise UserError(f"--resume: {', '.join(given).replace('_', '-')} cannot change a study; the study "
                            "folder's study.json has them (--trials, --timeout, --workers, --max-failures may change)")
    elif not args.space:
        raise UserError("tune.py needs --space FILE (a def space(trial), e.g. configs/space.py), or --resume STUDY_DIR")
    if not args.resume and not args.worker and not args.trials and not args.timeout:
        raise UserError("say how long to search: --trials N and/or --timeout MINUTES")
    if args.workers == 0:
        raise UserError("--workers must be 1 or more")
    return args


def new_study(args: argparse.Namespace):
    from group import preflight
    from tuning import space as space_lib
    from tuning import study_dir, worker

    base = config_lib.load(args.config, args.overrides)
    preflight.check(base)
    space = space_lib.load(args.space)
    dry = space_lib.check(space, base, args.space)  # bad spaces fail here, before any folder or trial
    engine.sampler(args.sampler, base.seed)
    source = " ".join([f"--config {args.config}" if args.config else "config.py",
                       *(f"--set {s}" for s in args.overrides)])
    settings = study_dir.Settings(base=base.to_dict(), base_source=source, space=str(args.space),
                                  trials=args.trials or 0, timeout_minutes=args.timeout or 0.0,
                                  trial_minutes=args.trial_minutes or 0.0, sampler=args.sampler, pruner=args.pruner,
                                  storage=args.storage or "", study_name=args.study_name or "",
                                  workers=args.workers or 1,
                                  **({} if args.max_failures is None else {"max_failures": args.max_failures}))
    if args.storage:
        engine.storage(args.storage, Path("."))  # an unreachable database fails before the folder is made
    folder = study_dir.create(settings, Path(args.space))
    worker.open_study(settings, folder, create=True)
    study_dir.logger(folder).info(f"study {settings.study_name} in {folder}: space checked on {dry} dry trials; "
                                  f"{settings.trials or 'unlimited'} trials, sampler {settings.sampler}, "
                                  f"pruner {settings.pruner}")
    return folder, settings


def resumed_study(args: argparse.Namespace):
    from tuning import study_dir, worker

    folder = args.resume
    settings = study_dir.load(folder)
    if args.trial_minutes is not None and args.trial_minutes != settings.trial_minutes:
        raise UserError(f"--resume {folder}: --trial-minutes is part of the study ({settings.trial_minutes:g} when it "
                        "was made): trials trained under another budget would not compare; leave it out, or start "
                        "a new study")
    for knob, value in (("trials", args.trials), ("timeout_minutes", args.timeout), ("workers", args.workers),
                        ("max_failures", args.max_failures)):
        if value is not None:
            setattr(settings, knob, value)
    study_dir.save(folder, settings)
    stale = worker.recover(folder, settings)
    study_dir.logger(folder).info(f"resuming study {settings.study_name}: "
                                  + (f"trial(s) {', '.join(map(str, stale))} were interrupted, marked failed and "
                                     "queued again" if stale else "no trial was interrupted"))
    return folder, settings


@exit_on_user_error
def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    from tuning import study_dir, worker

    if args.worker:
        worker.work(args.worker, study_dir.load(args.worker), args.worker_index)
        return args.worker
    engine.optuna()
    folder, settings = resumed_study(args) if args.resume else new_study(args)
    try:
        if settings.workers > 1:
            worker.spawn(folder, settings, settings.workers)
        else:
            worker.work(folder, settings)
    except KeyboardInterrupt:
        print(f"tune.py: interrupted; python tune.py --resume {folder} goes on", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"study folder: {folder}; best config: {folder / 'best.py'}; "
          f"dashboard: optuna-dashboard {folder / engine.JOURNAL if not settings.storage else settings.storage}")
    return folder


if __name__ == "__main__":
    main()
