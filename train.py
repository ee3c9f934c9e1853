"""Train a model on the competition layout (or the built-in demo data).

    python train.py                                   # config.py as it is
    python train.py --config configs/x.py --set lr=3e-4 epochs=20
    python train.py epochs=3 tta=flip                 # bare KNOB=VALUE words work as --set
    python train.py --config configs/x.py --dry-run   # check data, model, one batch each way; no run folder
    python train.py --config configs/x.py --print-config --diff   # what differs from config.py
    python train.py --resume runs/x-20260101-120000   # continue a stopped run in its folder
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from base import cli_knobs
from base import config as config_lib
from base.cli_types import HelpFormatter
from base.errors import ArgumentParser, UserError, exit_on_user_error

# Knobs a resumed run may change: they do not alter what the finished epochs mean.
RESUMABLE = {"epochs", "time_limit_minutes", "patience", "num_workers", "device", "inference_batch_size",
             "checkpoint", "name", "kfold_folds", "tta", "decision_offsets", "person_vote", "person_vote_size",
             "person_vote_guard", "checkpoint_every_steps",
             "keep_last", "persistent_workers", "prefetch_factor", "cache", "cache_memory_gb", "cache_dir", "plots",
             "gallery_size", "tensorboard", "wandb", "wandb_project", "wandb_mode", "cudnn_benchmark"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return cli_knobs.parse(build_parser(), argv)


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python train.py", description=__doc__, formatter_class=HelpFormatter)
    cli_knobs.add_knob_arguments(ap)
    ap.add_argument("--resume", metavar="RUN_DIR",
                    help="continue this run folder from its last.pt ('auto' = the newest run whose "
                    "config has this config's name)")
    ap.add_argument("--force", action="store_true", help="with --resume: accept changed knobs other than "
                    + ", ".join(sorted(RESUMABLE)))
    ap.add_argument("--dry-run", action="store_true", help="check the data, build the model, train one batch and "
                    "validate one, say which run folder a real run would make, and exit without making a run folder")
    cli_knobs.add_print_config(ap)
    return ap


def resolve(args: argparse.Namespace) -> tuple[config_lib.Config, Path | None]:
    """The configuration to train with, and the run folder to continue (None = a new run)."""
    from base import distributed
    from base.group_file import GROUP_FILE
    from base.run_dir import newest

    if not args.resume:
        return config_lib.load(args.config, args.overrides), None
    now = config_lib.load(args.config, args.overrides)
    run = newest(now.runs_dir, name=now.name) if args.resume == "auto" else Path(args.resume)
    if not (run / "config.json").is_file():
        raise UserError(f"--resume {run}: no config.json there; pass a run folder made by train.py")
    # Rank 0 decides where the run goes on (it hands last.pt to the others): another node's copy
    # of the folder may lack a newer last.pt.
    if distributed.env_rank() == 0 and not (run / "last.pt").is_file() and not (run / GROUP_FILE).is_file():
        # Without it the run would start again from epoch 1 and overwrite the folder's best.pt.
        raise UserError(f"--resume {run}: no last.pt there, nothing to continue from; start a new run "
                        "(python train.py without --resume)")
    saved = config_lib.from_dict(json.loads((run / "config.json").read_text()), source=str(run / "config.json"))
    requested = config_lib.load(args.config, args.overrides, base=saved)  # only what is given now changes
    risky = [k for k in saved.diff(requested) if k not in RESUMABLE]
    if risky and not args.force:
        raise UserError(f"--resume {run}: knobs differ from the saved run: {', '.join(risky)}; "
                        "drop them, or add --force to accept")
    return requested, run


@exit_on_user_error
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    cfg, run = resolve(args)
    if args.print_config:
        print(cli_knobs.config_text(cfg, args.diff), end="")
        return {}
    from base import distributed  # the heavy imports: after the command line is understood
    from data_loader.transforms import PRESETS
    from group import build
    from group.dry_run import dry_run
    from model.tta import VIEWS

    PRESETS.get(cfg.augment)  # fail on an unknown name now, not after the data is read
    for view in cfg.tta:
        VIEWS.get(view)
    if args.dry_run:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise UserError("--dry-run tries one batch in one process; run it without torchrun "
                            "(python train.py --dry-run ...), then start the real run under torchrun")
        return dry_run(cfg, resumed=run)
    result = build(cfg).fit(run, resume=run is not None)
    # Under torchrun: leave the process group, after a normal end only; a process that failed
    # alone exits and torchrun stops the others, which may be waiting inside a collective call.
    distributed.shutdown()
    return result


if __name__ == "__main__":
    main()
