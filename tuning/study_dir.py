"""The study folder, <runs_dir>/tune-<name>-<time>/, and study.json, what the study is.

    study.json      the base config (every knob), the search settings, the storage and the study's
                    name in it; --resume reads it, so a resumed study goes on with the same base
    space.py        a copy of the space file the study started with (the one --resume uses)
    journal.log     Optuna's storage, unless --storage named another
    tune.log        the tuner's one line per trial
    trial-0007/     an ordinary run folder per trial (config.json, metrics.csv, best.pt, pictures)
    trials.csv, best.py, history.png, importances.png, intermediate.png   (tuning/results.py)
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from base import config as config_lib
from base import run_dir
from base.atomic import write_text
from base.errors import UserError

STUDY_FILE = "study.json"
SPACE_COPY = "space.py"


@dataclass
class Settings:
    base: dict                     # every knob of the base config (config.py + --config + --set)
    base_source: str               # how the base was given, for best.py's docstring
    space: str                     # the space file the study started with
    trials: int = 0                # trials to run (complete, pruned or failed); 0 = until --timeout
    timeout_minutes: float = 0.0   # start no trial after this long (per tune.py invocation); 0 = none
    trial_minutes: float = 0.0     # time_limit_minutes of every trial; 0 = the base config's
    sampler: str = "tpe"
    pruner: str = "asha"
    storage: str = ""              # "" = the journal file in the study folder
    study_name: str = ""
    workers: int = 1
    max_failures: int = 5          # stop after this many trials in a row failed; 0 = never
    extra: dict = field(default_factory=dict)

    @property
    def base_config(self) -> config_lib.Config:
        return config_lib.from_dict(self.base, source=STUDY_FILE)


def create(settings: Settings, space_file: Path) -> Path:
    """A new study folder with study.json and the space file's copy."""
    base = settings.base_config
    folder = run_dir.create(base.runs_dir, f"tune-{base.name or 'run'}")
    shutil.copyfile(space_file, folder / SPACE_COPY)
    settings.study_name = settings.study_name or folder.name
    save(folder, settings)
    return folder


def save(folder: Path, settings: Settings) -> None:
    write_text(folder / STUDY_FILE, json.dumps(asdict(settings), indent=2) + "\n")


def load(folder: Path) -> Settings:
    path = Path(folder) / STUDY_FILE
    if not path.is_file():
        raise UserError(f"--resume {folder}: no {STUDY_FILE} there; pass a study folder made by tune.py")
    try:
        return Settings(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise UserError(f"{path}: not a study file tune.py wrote ({error}); start a new study") from None


def trial_folder(folder: Path, number: int) -> Path:
    return Path(folder) / f"trial-{number:04d}"


def logger(folder: Path) -> logging.Logger:
    """The tuner's own log (console and tune.log); the trials' runs log into their folders."""
    log = logging.getLogger("mask18-tune")
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("[tune] %(message)s"))
    file = logging.FileHandler(Path(folder) / "tune.log")
    file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(message)s"))
    log.addHandler(console)
    log.addHandler(file)
    return log
