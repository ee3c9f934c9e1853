"""What bench/gpu_check.py's sections share: the verdict lines, the work folder, and the child
processes (started in groups of their own, and ended with every descendant)."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CUDA_ONLY = "SKIP (needs CUDA)"

# The training runs. On a GPU: config.py's defaults (the quickstart, about 0.99 validation F1 on
# the 400-person demo), so a precision that hurts learning shows in the F1. With --cpu: the
# tests' tiny model and data; the F1 bar is then 0, as only the plumbing is under test.
GPU_RUN = {"device": "cuda", "plots": False}
CPU_RUN = {"device": "cpu", "plots": False, "backbone": "test_resnet", "image_size": (32, 32), "batch_size": 16,
           "epochs": 2, "folds": 3, "num_workers": 0, "inference_batch_size": 32}
F1_BAR = {"gpu": 0.90, "cpu": 0.0}
# Demo data (persons, eval persons, picture size): the runs' set, and the speed set at the
# competition's training size; made side by side, in seconds and in about twenty.
DATA = {"gpu": {"small": (400, 100, (128, 96)), "speed": (200, 100, (384, 288))},
        "cpu": {"small": (36, 4, (64, 48))}}


class Check:
    """The verdicts of one section; `failed` decides its exit code. Outside the CPU mode a SKIP
    is a failure too: a GPU check that could not check something has not passed it."""

    def __init__(self, cpu: bool = False):
        self.failed, self.cpu, self.started = False, cpu, time.perf_counter()

    def say(self, name: str, status: str, detail: str, missing: bool = True) -> None:
        """`missing`=False: a SKIP of what does not apply to this machine, not of a prerequisite
        that is missing; it fails nothing."""
        counts = status.startswith("SKIP") and not self.cpu and missing
        self.failed |= status == "FAIL" or counts
        if counts:
            detail += "; a SKIP outside --cpu counts as a failure"
        print(f"{name:<10} {status} {detail} [{time.perf_counter() - self.started:.0f} s]", flush=True)

    def judge(self, name: str, ok: bool, detail: str) -> None:
        self.say(name, "PASS" if ok else "FAIL", detail)


def gpu_amp() -> str:
    """The half precision this GPU computes natively: bf16 from Ampere on, else fp16 (what
    amp="auto" picks there; bf16 would only be emulated, several times slower)."""
    from base.update import native_bf16

    return "bf16" if native_bf16() else "fp16"


def sets(knobs: dict) -> list[str]:
    return [arg for knob, value in knobs.items() for arg in ("--set", f"{knob}={value!r}")]


CHILDREN: list[subprocess.Popen] = []


def start(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A child in the repository root, its output into `log`, in its own process group."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        CHILDREN.append(subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env))
    return CHILDREN[-1]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc: torchrun starts its workers in sessions of their
    own, which a kill of torchrun's process group does not reach."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the name, in (), may hold spaces
        except (OSError, IndexError):
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped, does not). Read from /proc, not
    Popen.poll(): inside the SIGTERM handler the interrupted Popen.wait() holds the lock poll needs."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def end_tree(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to `process` (torchrun then stops its workers), `grace` seconds to end, then
    SIGKILL to every descendant still there, those met before the SIGTERM included (a worker
    whose parent died is no longer below it)."""
    tree = descendants(process.pid)
    if alive(process.pid):
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        tree |= descendants(process.pid)
    for pid in {process.pid, *tree}:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def end_children(*_) -> None:
    """On the section's time limit (SIGTERM): left running, the children would hold the GPU in
    the next section."""
    for child in CHILDREN:
        end_tree(child)
    sys.exit(124)


def finish(process: subprocess.Popen, log: Path) -> str:
    """"" when the child ended well, else why not: its exit code and the last line it wrote."""
    if process.wait() == 0:
        return ""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return f"exit {process.returncode}: {lines[-1] if lines else 'no output'} (log {log})"


def run(cmd: list[str], log: Path) -> str:
    return finish(start(cmd, log), log)


def the_run(runs_dir: Path) -> Path:
    for config in Path(runs_dir).glob("*/config.json"):
        return config.parent
    raise FileNotFoundError(f"no run folder in {runs_dir}")


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


class Work:
    """Paths and sizes of one check: the work folder and the mode."""

    def __init__(self, folder: Path, cpu: bool):
        self.dir, self.cpu, self.mode = folder, cpu, "cpu" if cpu else "gpu"
        self.run_knobs = CPU_RUN if cpu else GPU_RUN

    def data(self, name: str = "small") -> Path:
        return self.dir / "data" / name

    def new_run(self, runs: str, **more) -> list[str]:
        """The --set arguments of a run into runs/<runs>, emptied first (KEEP=DIR may hold an older one)."""
        shutil.rmtree(self.dir / "runs" / runs, ignore_errors=True)
        return sets({**self.run_knobs, "data_dir": str(self.data()), "runs_dir": str(self.dir / "runs" / runs),
                     **more})

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"
