"""Run folders: runs/<name>-<YYYYmmdd-HHMMSS>[-N], created exclusively, never shared."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from base.errors import UserError


def create(runs_dir: str | Path, name: str) -> Path:
    """A new, empty run folder; two runs started in the same second get different ones."""
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = root / (f"{name}-{stamp}" + (f"-{n}" if n > 1 else ""))
        try:
            folder.mkdir()  # atomic: fails if another run took this name first
            return folder
        except FileExistsError:
            continue
    raise UserError(f"{root}: cannot create a run folder for {name!r}")


def prepare(run: str | Path | None, resume: bool, runs_dir: str | Path, name: str) -> Path:
    """The folder a training writes to: `run` to continue (resume), `run` to create, or a new one."""
    if run is None:
        return create(runs_dir, name)
    run = Path(run)
    if resume:
        if not run.is_dir():
            raise UserError(f"{run}: no such run folder to resume")
        return run
    try:
        run.mkdir(parents=True)
    except FileExistsError:
        raise UserError(f"{run} already exists; resume it with --resume or choose another folder") from None
    return run


def newest(runs_dir: str | Path, name: str | None = None) -> Path:
    """The most recently started run (with a config.json), optionally of one name."""
    root = Path(runs_dir)
    runs = [p.parent for p in root.glob("*/config.json") if name is None or p.parent.name.startswith(f"{name}-")]
    if not runs:
        what = f"runs named {name!r}" if name else "runs"
        raise UserError(f"no {what} in {root}/; train first (python train.py) or pass --run RUN_DIR")
    return max(runs, key=lambda p: (p.joinpath("config.json").stat().st_mtime, p.name))


class _TqdmHandler(logging.StreamHandler):
    """Log lines that do not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


def setup_logging(run: Path | None = None) -> logging.Logger:
    """The "mask18" logger: console, plus run/train.log when a run folder is given."""
    log = logging.getLogger("mask18")
    log.setLevel(logging.INFO)
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
