"""Train a model on the competition layout (or the built-in demo data).

    python train.py                                   # config.py as it is
    python train.py --config configs/x.py --set lr=3e-4 epochs=20
    python train.py epochs=3 tta=flip                 # bare KNOB=VALUE words work as --set
    python train.py --config configs/x.py --dry-run   # check data, model, one batch each way; no run folder
    python train.py --config configs/x.py --print-config --diff   # what differs from config.py
    python train.py --resume runs/x-20260101-120000   # continue a stopped run in its folder
    python train.py --list losses                     # what a knob may name: backbones 'resnet*', trainers, ...
"""
from __future__ import annotations

import argparse
import os

from base import cli_knobs, resume
from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return cli_knobs.parse(build_parser(), argv)


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python train.py", description=__doc__, formatter_class=HelpFormatter)
    cli_knobs.add_knob_arguments(ap)
    ap.add_argument("--resume", metavar="RUN_DIR",
                    help="continue this run folder from its last.pt ('auto' = the newest run whose "
                    "config has this config's name)")
    ap.add_argument("--force", action="store_true", help="with --resume: accept changed knobs other than "
                    + ", ".join(sorted(resume.RESUMABLE)))
    ap.add_argument("--dry-run", action="store_true", help="check the data, build the model, train one batch and "
                    "validate one, say which run folder a real run would make, and exit without making a run folder")
    cli_knobs.add_print_config(ap)
    ap.add_argument("--list", nargs="*", metavar="KIND", help="list what the knobs may name and exit: KIND is "
                    "backbones (with their pretrained weights, * = on this machine), losses, trainers, views, "
                    "augments, mixers, samplers, callbacks or presets, and a shell pattern may follow "
                    "(--list backbones 'convnext*'); alone: every kind; with --config, its custom_imports too")
    return ap


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.list is not None:  # the config first: its custom_imports register their names
        resume.resolve(args.config, args.overrides, args.resume, args.force, join=False)
        from catalog.listing import listing

        print(listing(args.list), end="")
        return {}
    if args.print_config:  # what the run would refuse, it refuses too
        cfg, _ = resume.resolve(args.config, args.overrides, args.resume, args.force, join=False)
        from group import preflight  # heavy: after the knobs themselves are checked

        preflight.check(cfg)
        print(cli_knobs.config_text(cfg, args.diff), end="")
        return {}
    from base import distributed  # the heavy imports: after the command line is understood
    from group import build, preflight
    from group.dry_run import dry_run

    with distributed.leave_together():
        # Under torchrun the processes join here and rank 0 decides the run for all of them.
        cfg, run = resume.resolve(args.config, args.overrides, args.resume, args.force, join=not args.dry_run)
        preflight.check(cfg)  # every name, head key and package now, not after the data is read
        if args.dry_run:
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise UserError("--dry-run tries one batch in one process; run it without torchrun "
                                "(python train.py --dry-run ...), then start the real run under torchrun")
            return dry_run(cfg, resumed=run)
        result = build(cfg).fit(run, resume=run is not None)
    # Under torchrun: leave the process group after a normal end (or an error every process raised
    # together: leave_together); a process that failed alone exits and torchrun stops the others,
    # which may be waiting inside a collective call.
    distributed.shutdown()
    return result


if __name__ == "__main__":
    main()
