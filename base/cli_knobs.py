"""The knob arguments of train.py and tune.py: --config, --set, bare knob=value words, the flags
users of timm, Lightning and Hugging Face type first, and --print-config [--diff].

    python train.py --config configs/best.py --set lr=3e-4 epochs=20   # several knobs after one --set
    python train.py epochs=3 tta=flip,scale                            # bare words, the Hydra habit
    python train.py --epochs 3 --lr 3e-4 --image-size 384,288          # the shortcuts
    python train.py --config configs/best.py --print-config --diff     # what differs from config.py

Everything here is argparse and base/config.py: nothing heavy is imported, so --help and
--print-config answer at once.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from base import config as config_lib
from base.cli_types import positive_int, size
from base.errors import UserError

# flag -> (knob, how argparse reads the value): each is --set knob=value spelled the common way
ALIASES = {
    "--epochs": ("epochs", positive_int, "N"),
    "--lr": ("lr", float, "LR"),
    "--batch-size": ("batch_size", positive_int, "N"),
    "--seed": ("seed", int, "N"),
    "--device": ("device", str, "DEVICE"),
    "--data-dir": ("data_dir", str, "DIR"),
    "--backbone": ("backbone", str, "NAME"),
    "--image-size": ("image_size", size, "H,W"),
}
SET_HELP = ("change knobs, several after one --set (repeatable): --set lr=3e-4 epochs=20; lists as "
            "tta=flip,scale, sizes as image_size=384,288, booleans as pretrained=true")


def add_knob_arguments(ap: argparse.ArgumentParser, what: str = "the run") -> None:
    """--config, --set, bare KNOB=VALUE words and the shortcut flags, on `ap`."""
    ap.add_argument("--config", metavar="FILE", help=f"experiment file: the knobs of {what} that differ from "
                    "config.py (default: config.py as it is)")
    ap.add_argument("--set", action="extend", nargs="+", default=[], metavar="KNOB=VALUE", help=SET_HELP)
    ap.add_argument("knobs", nargs="*", default=[], metavar="KNOB=VALUE", help="the same as --set, without it")
    shortcuts = ap.add_argument_group("shortcuts", "the knobs users set most, each the same as --set KNOB=VALUE")
    defaults = config_lib.schema()
    for flag, (knob, kind, metavar) in ALIASES.items():
        shown = ",".join(map(str, defaults[knob][1])) if kind is size else defaults[knob][1]
        shortcuts.add_argument(flag, type=kind, dest=f"knob_{knob}", metavar=metavar, default=None,
                               help=f"--set {knob}={metavar} (config.py: {shown})")


def add_print_config(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--print-config", action="store_true", help="print the resolved configuration as an "
                    "experiment file (knob = value lines) and exit")
    ap.add_argument("--diff", action="store_true", help="with --print-config: only the knobs that differ from "
                    "config.py")


def parse(ap: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`ap`'s arguments, with `overrides`: every knob change of the command line as KNOB=VALUE, in
    the order shortcuts, --set, bare words (a later one wins). A word that is not KNOB=VALUE is refused."""
    args, extra = ap.parse_known_args(argv)
    words = [*args.knobs, *extra]  # bare words after an option land in `extra`
    wrong = [w for w in [*args.set, *words] if "=" not in w or w.startswith(("-", "="))]
    if wrong:
        raise UserError(f"unrecognized argument(s) {' '.join(wrong)}; change a knob with KNOB=VALUE or "
                        f"--set KNOB=VALUE (see {ap.prog} --help)")
    shortcuts = [f"{knob}={getattr(args, f'knob_{knob}')!r}" for knob, _, _ in ALIASES.values()
                 if getattr(args, f"knob_{knob}", None) is not None]
    args.overrides = [*shortcuts, *args.set, *words]  # a knob given twice: the last wins, as with flags
    if getattr(args, "diff", False) and not args.print_config:
        raise UserError("--diff goes with --print-config (python train.py --print-config --diff)")
    return args


def config_text(cfg: config_lib.Config, diff: bool = False) -> str:
    """`cfg` as an experiment file: `knob = value` lines (with --diff only those that differ from
    config.py), which `--config` reads back to the same configuration (an empty `name` aside: a
    run of that file is named after the file)."""
    knobs = cfg.diff(config_lib.load()) if diff else list(cfg)
    lines = [f"{knob} = {cfg[knob]!r}" for knob in knobs]
    head = "# the knobs that differ from config.py" if diff else "# the resolved configuration"
    return "\n".join([head, *lines]) + "\n"
