"""User-facing errors: one clear line, exit code 2, never a traceback."""
from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class UserError(Exception):
    """Bad input from the user: the message names the file or knob and the fix."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad command line is a UserError: one line, not the usage block, so every
    mistake reads the same (`error: ...`, exit 2) under `exit_on_user_error`."""

    def error(self, message: str):
        raise UserError(f"{message}; see {self.prog} --help")


def optional_import(module: str, knob: str, extra: str):
    """`module` of an optional package that config knob `knob` turns on, or one line: how to
    install it, or, installed but broken (a package installed beside it changed one of its
    dependencies, e.g. mediapipe's protobuf < 5 under a newer tensorboard), why it fails."""
    hint = f'pip install -e ".[{extra}]" or set {knob}=False'
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name in (module, extra) or (err.name or "").split(".")[0] == extra:
            raise UserError(f"config knob {knob!r}: the {extra} package is not installed; {hint}") from None
        broken = err
    except ImportError as err:
        broken = err
    reason = str(broken).splitlines()[0] if str(broken) else type(broken).__name__
    raise UserError(f"config knob {knob!r}: {extra} is installed but does not import ({reason}); "
                    f"reinstall it and what it needs: {hint}")


def exit_on_user_error(main: F) -> F:
    """Wrap a CLI entry point so a UserError prints one line and exits with 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper  # type: ignore[return-value]
