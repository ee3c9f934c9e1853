"""User-facing errors: one clear line, exit code 2, never a traceback."""
from __future__ import annotations

import argparse
import functools
import importlib
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class UserError(Exception):
    """Bad input from the user: the message names the file or knob and the fix."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's stop, `kill`), raised like Ctrl-C's KeyboardInterrupt so that every
    clean-up Ctrl-C gets (a new run folder without a checkpoint removed, the resume line) runs."""


def _terminated(signum, frame):
    raise Terminated()


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
    """Wrap a CLI entry point so a UserError prints one line and exits with 2; Ctrl-C and SIGTERM
    stop it as an interruption (exit 130 and 143), with the same clean-up."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        main_thread = threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        except Terminated:
            print("terminated (SIGTERM)", file=sys.stderr)
            raise SystemExit(143) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, before)

    return wrapper  # type: ignore[return-value]
