"""Optuna, by name: the sampler, the pruner and the storage a study is opened with.

Optuna is an extra (pip install -e ".[tune]"): `optuna()` imports it or says in one line how to
get it. Samplers are any of optuna.samplers by short name ("tpe", "random", "cmaes", "gp", "qmc",
"nsgaii", ...); pruners are "asha" (successive halving, the default), "hyperband", "median" and
"none". The default storage is Optuna's journal file in the study folder: an append-only log
with file locks, which several processes on one machine (or on a shared disk) can write at once
and which survives kill -9 (SQLite's file locking is the weaker choice for parallel workers).
"""
from __future__ import annotations

import importlib
import warnings
from pathlib import Path

from base.errors import UserError

JOURNAL = "journal.log"
PRUNERS = ("asha", "hyperband", "median", "none")
HEARTBEAT_SECONDS = 60


def optuna():
    try:
        module = importlib.import_module("optuna")
    except ImportError:
        raise UserError('tune.py needs Optuna: pip install -e ".[tune]"') from None
    module.logging.set_verbosity(module.logging.WARNING)  # the tuner prints its own one line per trial
    # The parts used here that Optuna marks experimental (journal file, heartbeats, matplotlib plots),
    # and its note that heartbeats are meant for study.optimize (worker.py beats for asked trials).
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
    return module


def sampler(name: str, seed: int):
    """An Optuna sampler by short name, seeded (each worker gets its own seed)."""
    samplers = optuna().samplers
    known = {n.lower().removesuffix("sampler"): getattr(samplers, n) for n in dir(samplers)
             if n.endswith("Sampler") and not n.startswith("Base") and n not in ("GridSampler", "PartialFixedSampler")}
    cls = known.get(name.lower().removesuffix("sampler"))
    if cls is None:
        raise UserError(f"--sampler {name!r}: unknown; known: {', '.join(sorted(known))}")
    try:
        return cls(seed=seed)
    except TypeError:  # a sampler without a seed
        return cls()


def pruner(name: str):
    """Rungs at epochs 1, 3, 9, ... for asha: a trial goes on only while it is in the best third
    of the trials that reached its rung (the first trials must lead to go on, as Optuna's
    successive halving promotes them)."""
    pruners = optuna().pruners
    if name == "asha":
        return pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if name == "median":
        return pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "none":
        return pruners.NopPruner()
    raise UserError(f"--pruner {name!r}: unknown; known: {', '.join(PRUNERS)}")


def storage(url: str, study_dir: Path):
    """The storage of `url`: "" = the journal file in the study folder; an RDB URL such as
    postgresql://user:pw@host/db or sqlite:///path.db otherwise (with heartbeats: see worker.py)."""
    if not url:
        journal = optuna().storages.journal
        path = study_dir / JOURNAL
        return journal.JournalStorage(journal.JournalFileBackend(str(path), lock_obj=journal.JournalFileOpenLock(
            str(path))))
    storages = optuna().storages
    try:  # a machine that dies leaves no heartbeat: its trial is failed after 3 minutes and retried once
        return storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=3 * HEARTBEAT_SECONDS,
                                   heartbeat_stale_trial_callback=storages.RetryHeartbeatStaleTrialCallback(1))
    except ImportError as error:  # e.g. psycopg2 for PostgreSQL
        raise UserError(f"--storage {url}: {error}; install the database driver") from None
    except Exception as error:
        raise UserError(f"--storage {url}: cannot be opened: {type(error).__name__}: {error}") from None
