"""What every command line of the project shares: the help layout and the value types.

argparse has no type for a size or a share; these are the few lines each tool would otherwise
write again with its own syntax. A size is written one way everywhere, HEIGHT,WIDTH (128,96), as
config.py writes it; one number is a square.
"""
from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written, and every option's default in its help line (where it has
    one worth saying and the help does not say it already)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        none = default is None or default is False or default == [] or default is argparse.SUPPRESS
        quiet = none or "default" in text
        return text if quiet or not action.option_strings else f"{text} (default: %(default)s)"


def size_parts(text: str) -> tuple[int, int] | None:
    """The two whole numbers of a size as typed: HEIGHT,WIDTH (128,96), 128x96, or one number for
    a square; None when `text` is not written so. The one reading of a size, for these flags and
    for a size knob's --set value (base/config.py)."""
    parts = text.lower().replace("x", ",").split(",")
    parts = parts * 2 if len(parts) == 1 else parts
    return (int(parts[0]), int(parts[1])) if len(parts) == 2 and all(p.strip().isdigit() for p in parts) else None


def size(text: str) -> tuple[int, int]:
    """HEIGHT,WIDTH in pixels (128,96, or 128x96); one number is a square."""
    parts = size_parts(text)
    if parts is None or min(parts) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write HEIGHT,WIDTH in pixels, e.g. 128,96")
    return parts


def _whole(text: str) -> int | None:
    """`text` as a whole number (3, or 3.0 as users type it), else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    value = _whole(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number, 1 or more")
    return value


def count(text: str) -> int:
    """A whole number, 0 or more."""
    value = _whole(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number, 0 or more")
    return value


def share(text: str) -> float:
    """A share in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number in (0, 1]")
    return value
