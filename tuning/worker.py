"""The tuner's loop in one process, the K processes of --workers, and what --resume repairs.

Each process loops: under a file lock in the study folder, count the trials that ended (complete,
pruned, or failed on their own) or are running; if they reach --trials (or --timeout has passed)
stop, else ask Optuna for the next trial; then, outside the lock, train it and tell Optuna how it
ended. The lock makes the count and the ask one step, so K processes on one machine run exactly N
trials; processes on other machines (--storage URL) share the storage but not the lock, and may
overshoot by one trial each. A trial stopped from outside (Ctrl-C, a killed tuner, a dead machine)
does not count: it runs again. When --max-failures trials in a row failed on their own since this
tune.py started (a space or a base config that no trial survives), the study stops with one line
naming the last failure, rather than spend its trials, or its whole --timeout, on failures.
"""
from __future__ import annotations

import fcntl
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from base.errors import UserError
from base.monitor import Monitor
from base.repeating import repeating
from group.registry import runner
from tuning import engine, results
from tuning import space as space_lib
from tuning import trial as trial_lib
from tuning.study_dir import SPACE_COPY, Settings, logger
from tuning.trial import BASE, ENDED

LOCK = ".ask.lock"


@contextmanager
def ask_lock(study_dir: Path) -> Iterator[None]:
    with open(study_dir / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_study(settings: Settings, study_dir: Path, worker: int = 0, create: bool = False, storage=None):
    opt = engine.optuna()
    base = settings.base_config
    direction = "maximize" if Monitor.of(base, runner(base)).mode == "max" else "minimize"
    storage = storage or engine.storage(settings.storage, study_dir)
    kwargs = {"study_name": settings.study_name, "storage": storage,
              "sampler": engine.sampler(settings.sampler, base.seed),
              "pruner": engine.pruner(settings.pruner)}
    if create:
        study = opt.create_study(direction=direction, load_if_exists=True, **kwargs)
        if not study.get_trials(deepcopy=False):
            queue_base(study, settings, study_dir)
        return study
    try:
        study = opt.load_study(**kwargs)
    except KeyError:
        raise UserError(f"{study_dir}: the storage has no study {settings.study_name!r}; "
                        "start a new study without --resume") from None
    # A sampler seeded as in the first run would draw the first run's random start-up trials again
    # after a resume: the seed moves on with the trials already in the study (and differs per worker).
    study.sampler = engine.sampler(settings.sampler, base.seed + 7919 * worker + len(study.get_trials(deepcopy=False)))
    return study


def queue_base(study, settings: Settings, study_dir: Path) -> None:
    """Trial 0: the base config itself, as the space's own suggestions where the space can say it
    (so every sampler learns from it), else the config as it is, outside the space (samplers that
    model only the parameters every trial has, cmaes, gp and qmc, would then draw at random:
    there it is left out, and the log says so)."""
    params = space_lib.base_params(space_lib.load(study_dir / SPACE_COPY), settings.base_config)
    if params is not None:
        study.enqueue_trial(params, user_attrs={BASE: "space"})
    elif settings.sampler in ("cmaes", "gp", "qmc"):
        logger(study_dir).info(f"the base config is not inside the space, and sampler {settings.sampler} models only "
                               "parameters every trial has: it is not trial 0; best.py may score below it")
    else:
        study.enqueue_trial({}, user_attrs={BASE: "config"})


def counts(trial) -> bool:
    """Whether a trial counts toward --trials: it runs, or it ended on its own (a failure too)."""
    return trial.state.name in ("COMPLETE", "PRUNED", "RUNNING") or trial.user_attrs.get(ENDED) == "fail"


def failed_in_a_row(trials, since: datetime) -> list:
    """The trials that failed on their own, one after another, up to the last trial that ended
    since `since` (the newest last); a complete or pruned trial ends the run of failures."""
    ended = sorted((t for t in trials if t.datetime_complete and t.datetime_complete >= since
                    and t.state.name != "RUNNING" and (t.state.name != "FAIL" or t.user_attrs.get(ENDED) == "fail")),
                   key=lambda t: t.datetime_complete)
    streak = []
    for trial in reversed(ended):
        if trial.state.name != "FAIL":
            break
        streak.insert(0, trial)
    return streak


def failures(what: str, last, study_dir: Path) -> UserError:
    """The one line that stops a study whose trials fail: `what` failed, and the last one's reason."""
    return UserError(f"{what}; the last, trial {last.number}: {last.user_attrs.get('reason') or 'no reason recorded'}; "
                     f"fix it in the base config or the space and start a new study, or python tune.py --resume "
                     f"{study_dir} once the cause is gone")


def work(study_dir: Path, settings: Settings, worker: int = 0) -> None:
    """Run trials until the study has `settings.trials` (failed ones among them), the timeout
    passed, or `settings.max_failures` trials in a row failed (a UserError)."""
    opt = engine.optuna()
    since = datetime.now()  # Optuna stamps trials in local time
    log = logger(study_dir)
    space = space_lib.load(study_dir / SPACE_COPY)
    storage = engine.storage(settings.storage, study_dir)
    study = open_study(settings, study_dir, worker, storage=storage)
    deadline = time.monotonic() + settings.timeout_minutes * 60 if settings.timeout_minutes else math.inf
    states = {"complete": opt.trial.TrialState.COMPLETE, "pruned": opt.trial.TrialState.PRUNED,
              "fail": opt.trial.TrialState.FAIL}
    while True:
        with ask_lock(study_dir):
            if beats(storage):  # a trial of a dead machine is failed (and queued again) first
                opt.storages.fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            streak = failed_in_a_row(trials, since)
            if settings.max_failures and len(streak) >= settings.max_failures:
                results.write(study_dir, study, settings)
                raise failures(f"{len(streak)} trial{'s' * (len(streak) > 1)} in a row failed (--max-failures "
                               f"{settings.max_failures})", streak[-1], study_dir)
            if settings.trials and sum(map(counts, trials)) >= settings.trials or time.monotonic() >= deadline:
                break
            trial = study.ask()
        log.info(f"trial {trial.number} starts (worker {worker})")
        try:
            with heartbeat(storage, trial):
                outcome = trial_lib.run(trial, space, settings, study_dir)
        except KeyboardInterrupt:
            trial.set_user_attr("reason", "interrupted (Ctrl-C); tune.py --resume goes on")
            study.tell(trial, state=states["fail"])
            if "retry_of" not in trial.user_attrs:  # as after kill -9: its params run once more
                study.enqueue_trial(trial.params, user_attrs=retry_attrs(trial))
            results.write(study_dir, study, settings)
            raise
        if outcome.state == "complete":
            study.tell(trial, outcome.value)
        else:
            study.tell(trial, state=states[outcome.state])
        log.info(f"trial {trial.number} {outcome.state}"
                 + (f": {outcome.monitor} {outcome.value:.4f}" if not math.isnan(outcome.value) else "")
                 + (f" ({outcome.reason})" if outcome.reason else ""))
        results.write(study_dir, study, settings, pictures=outcome.state != "fail")  # a failure changes no picture
    results.write(study_dir, study, settings)
    log.info(results.summary_line(study))
    trials = study.get_trials(deepcopy=False)
    if not any(t.state.name in ("COMPLETE", "PRUNED") for t in trials) and (failed := failed_in_a_row(trials, since)):
        raise failures(f"every trial failed ({len(failed)})", failed[-1], study_dir)


def beats(storage) -> bool:
    """Whether the storage keeps trial heartbeats (a database with heartbeat_interval)."""
    return bool(getattr(storage, "get_heartbeat_interval", lambda: None)())


@contextmanager
def heartbeat(storage, trial) -> Iterator[None]:
    """Optuna beats for trials it runs in study.optimize; an asked trial needs its own beat."""
    if not beats(storage):
        yield
        return
    with repeating(lambda: storage.record_heartbeat(trial._trial_id), storage.get_heartbeat_interval(),
                   first_now=True):
        yield


def retry_attrs(trial) -> dict:
    """What a trial run again keeps: which trial it retries, and whether it is the base config."""
    return {"retry_of": trial.number, **({BASE: True} if trial.user_attrs.get(BASE) else {})}


def recover(study_dir: Path, settings: Settings) -> list[int]:
    """After a crash or kill -9: trials left running are marked failed, and each one's params are
    queued once more (a retry is not retried again). With the journal file every running trial is
    this folder's and none runs (--resume is for a study whose tuner stopped); a database's trials
    may be other machines' live ones, so there only those whose heartbeat stopped are failed."""
    opt = engine.optuna()
    storage = engine.storage(settings.storage, study_dir)
    study = open_study(settings, study_dir, storage=storage)
    if beats(storage):
        before = {t.number for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"}
        opt.storages.fail_stale_trials(study)  # the storage's callback queues each one again
        return sorted(before - {t.number for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"})
    stale = [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
    for frozen in stale:
        live = opt.trial.Trial(study, frozen._trial_id)  # Optuna has no public handle on a past trial
        live.set_user_attr("reason", "interrupted: the tuner stopped during this trial")
        study.tell(frozen.number, state=opt.trial.TrialState.FAIL)
        if "retry_of" not in frozen.user_attrs:
            study.enqueue_trial(frozen.params, user_attrs=retry_attrs(frozen))
    return [t.number for t in stale]


def worker_devices(parent_env: Mapping[str, str], device_count: int, workers: int) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES of each of `workers` processes: worker i gets entry i % n of the
    devices this process sees, verbatim, so a tuner started under CUDA_VISIBLE_DEVICES=4,5 keeps
    to GPUs 4 and 5 (a plain index would be renumbered onto GPUs 0 and 1, someone else's). Entries
    may be numbers, GPU-<uuid> or MIG-... names; without the variable they are 0..device_count-1.
    None: no CUDA device, the variable is left as it is."""
    if device_count <= 0:
        return [None] * workers
    if "CUDA_VISIBLE_DEVICES" in parent_env:
        visible = []
        for entry in parent_env["CUDA_VISIBLE_DEVICES"].split(","):
            if not entry.strip():  # CUDA reads the list up to its first empty or invalid entry
                break
            visible.append(entry.strip())
        visible = visible[:device_count] or [str(i) for i in range(device_count)]
    else:
        visible = [str(i) for i in range(device_count)]
    return [visible[i % len(visible)] for i in range(workers)]


def core_shares(cores: Sequence[int], workers: int) -> list[list[int]]:
    """The CPU cores of each worker: a partition of this process's cores into `workers` runs of
    (nearly) equal size, worker i the cores [i*n/K, (i+1)*n/K); with more workers than cores,
    one core each, shared round the cores."""
    cores = sorted(cores)
    n = len(cores)
    if workers > n:
        return [[cores[i % n]] for i in range(workers)]
    return [cores[i * n // workers:(i + 1) * n // workers] for i in range(workers)]


@contextmanager
def pinned(cores: Sequence[int] | None) -> Iterator[None]:
    """This thread on `cores` for the moment (None: unchanged), its own affinity restored after."""
    if cores is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def spawn(study_dir: Path, settings: Settings, workers: int) -> None:
    """`workers` processes on the study, each on its own share of the machine.

    GPUs: see worker_devices; with more workers than GPUs several share one (said in one line).
    CPU: the cores this process may use are partitioned (core_shares), each worker is pinned to
    its share and gets OMP_NUM_THREADS = its size. Pinning rather than a num_workers override:
    whatever sizes itself by the cores it may run on then divides itself, with no extra knob:
    the DataLoader's auto num_workers (default_workers in base/base_data_loader.py counts
    sched_getaffinity; else K workers would each start min(8, cores - 1) loader processes),
    torch's threads, OpenCV's. Loader processes inherit the pinning, so K trainings never fight
    over a core. A child starts with the affinity of the thread that starts it, so this thread
    takes the share for the moment of the Popen (`pinned`): unlike Popen's preexec_fn, no Python
    runs between fork and exec, which is unsafe beside CUDA's threads. Where the system has no
    affinity call (macOS: no CUDA, so no loader processes by default) only the threads are shared."""
    import torch

    pin = hasattr(os, "sched_setaffinity")
    cores = sorted(os.sched_getaffinity(0)) if pin else list(range(os.cpu_count() or 1))
    devices = worker_devices(os.environ, torch.cuda.device_count(), workers)
    shares = core_shares(cores, workers)
    gpus = len({d for d in devices if d is not None})
    if gpus and workers > gpus:
        logger(study_dir).info(f"{workers} workers on {gpus} GPU(s): up to {-(-workers // gpus)} trainings share "
                               "a GPU's memory and time")
    procs = []
    for index, (device, share) in enumerate(zip(devices, shares, strict=True)):
        env = dict(os.environ, OMP_NUM_THREADS=str(len(share)))
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        with pinned(share if pin else None):
            procs.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve().parent.parent / "tune.py"),
                                           "--worker", str(study_dir), "--worker-index", str(index)], env=env))
    codes = [p.wait() for p in procs]
    if any(codes):
        raise UserError(f"{sum(c != 0 for c in codes)} of {workers} workers stopped with an error (above); "
                        f"python tune.py --resume {study_dir} goes on")
