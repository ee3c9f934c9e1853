"""Run folders: runs/<name>-<YYYYmmdd-HHMMSS>[-N], created exclusively, never shared; the files
that say what a run is (config.json, split.csv, corrections.csv); its log.

One writer per folder: the process that trains into a run holds an flock on its `.lock` file for
as long as it lives (the kernel drops it when the process dies, however it dies), so a second
`--resume` of a live run stops with one line instead of deleting the live run's temp files."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from base.atomic import write_csv, write_text
from base.errors import UserError


def create(runs_dir: str | Path, name: str) -> Path:
    """A new, empty run folder; two runs started in the same second get different ones."""
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where the folder, or one above it, should be
        raise UserError(f"config knob 'runs_dir': {root} is not a folder (a file is in the way); "
                        "set runs_dir to a folder") from None
    except OSError as err:
        raise _not_writable(root, err) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = root / (f"{name}-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            folder.mkdir()  # atomic: fails if another run took this name first
            return hold(folder)
        except FileExistsError:
            continue
        except OSError as err:  # read-only, no permission, a full disk
            raise _not_writable(root, err) from None
    raise UserError(f"{root}: cannot create a run folder for {name!r}")


def _not_writable(root: Path, err: OSError) -> UserError:
    return UserError(f"config knob 'runs_dir': cannot create a run folder in {root} ({err.strerror or err}); "
                     "set runs_dir to a folder you can write to")


def prepare(run: str | Path | None, resume: bool, runs_dir: str | Path, name: str) -> Path:
    """The folder a training writes to: `run` to continue (resume), `run` to create, or a new one."""
    if run is None:
        return create(runs_dir, name)
    run = Path(run)
    if resume:
        if not run.is_dir():
            raise UserError(f"{run}: no such run folder to resume")
        hold(run)
        for tmp in run.glob(".*.tmp"):  # a write cut short by the crash; its target is intact
            tmp.unlink(missing_ok=True)
        return run
    try:
        run.mkdir(parents=True)
    except FileExistsError:
        raise UserError(f"{run} already exists; resume it with --resume or choose another folder") from None
    except OSError as err:
        raise _not_writable(run.parent, err) from None
    return hold(run)


_held: dict[Path, int] = {}  # run folder -> the descriptor whose flock this process holds


def hold(run: Path) -> Path:
    """Make this process the run folder's one writer until it exits (see the module's docstring)."""
    key = run.resolve()
    if key in _held:
        return run
    fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise UserError(f"{run} is being trained right now by {holder}; wait for it to end or stop it, then "
                        "resume (one process writes a run folder at a time)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"process {os.getpid()} on {os.uname().nodename}".encode())
    _held[key] = fd
    return run


def release(run: Path) -> None:
    """Let go of a run folder held by this process (before removing it)."""
    fd = _held.pop(run.resolve(), None)
    if fd is not None:
        os.close(fd)


def write_run_files(run: Path, cfg, folds: pd.Series) -> None:
    """config.json, the label fixes the run trained with (corrections.csv) and split.csv: every
    person's fold and role."""
    write_text(run / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
    if cfg.corrections:  # the label fixes this run trained with, beside its config
        write_text(run / "corrections.csv", Path(cfg.corrections).read_text())
    roles = np.where(folds.to_numpy() == cfg.fold, "val", "train")
    write_csv(run / "split.csv", pd.DataFrame({"person": folds.index, "fold": folds, "role": roles}))


def newest(runs_dir: str | Path, name: str | None = None) -> Path:
    """The most recently started run (with a config.json); with `name`, the newest whose saved
    config has that name (the knob, "" included)."""
    root = Path(runs_dir)
    runs = [p.parent for p in root.glob("*/config.json") if name is None or _saved_name(p) == name]
    if not runs:
        what = f"runs of config name {name!r}" if name is not None else "runs"
        raise UserError(f"no {what} in {root}/; train first (python train.py) or pass the run folder")
    return max(runs, key=lambda p: (p.joinpath("config.json").stat().st_mtime, p.name))


def _saved_name(config_json: Path) -> str | None:
    try:
        return json.loads(config_json.read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def removed_without_checkpoint(run: Path, fresh: bool) -> Iterator[None]:
    """On any failure, remove a run folder this call created if no checkpoint was written to it:
    it holds nothing to resume or predict with (the console showed why it stopped), and left there
    it would become the "newest run" that inference.py picks. A folder with a checkpoint stays,
    with a line in its train.log on how to continue."""
    try:
        yield
    except BaseException as err:
        log = logging.getLogger("mask18")
        if fresh and not any(run.rglob("*.pt")):
            setup_logging()  # closes train.log
            release(run)
            shutil.rmtree(run, ignore_errors=True)
        else:
            reason = "interrupted" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
            log.info(f"stopped ({reason}); continue with: python train.py --resume {run}")
        raise


class _TqdmHandler(logging.StreamHandler):
    """Log lines that do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def setup_logging(run: Path | None = None, quiet: bool = False) -> logging.Logger:
    """The "mask18" logger: console, plus run/train.log when a run folder is given; `quiet`
    (the other processes of a DDP run) keeps warnings only."""
    log = logging.getLogger("mask18")
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    console = _TqdmHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(console)
    if run is not None:
        file = logging.FileHandler(run / "train.log")
        file.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(file)
    return log
