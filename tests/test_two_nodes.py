"""Two machines without a shared file system, on one host: two torchrun launches (--nnodes=2, one
gloo process each, c10d rendezvous), each in a working folder of its own with its own runs and
caches. Rank 0 decides the run for both (the pseudo labels it reads included), a resume reads the
run folder on every machine and stops both with one line where one lacks last.pt, and a cache
folder they share is built once, never replaced. Then the cache lock itself, in one process."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from base import distributed
from base.errors import UserError
from data_loader import build_once as lock

ROOT = Path(__file__).resolve().parent.parent
PSEUDO_ROWS = 4  # eval pictures pseudo-labelled into the training set
TRAIN, VAL = 168 + PSEUDO_ROWS, 84  # the tiny data's split, pictures per cache file


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(root: Path, name: str, args: list[str]) -> list[dict]:
    """tests/two_nodes.py as node 0 and node 1 of one job, each in root/node<K>; every rank's record
    (rank 0 first), with `stderr`: what its process printed there, and `torchrun`: what its
    launcher printed."""
    out, port, started = root / name, _free_port(), []
    out.mkdir()
    for k in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
                   f"--node_rank={k}", f"--local-addr=127.0.0.{k + 1}",  # ordered by address: node 0 is rank 0
                   "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id={name}-{port}",
                   f"--log-dir={out / f'log{k}'}", "--redirects=3",  # each process's output in a file of its own
                   str(ROOT / "tests" / "two_nodes.py"), str(out), *args]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MASK18_CACHE": str(root / f"node{k}" / "home")}
        with open(out / f"torchrun{k}.txt", "w") as console:
            started.append(subprocess.Popen(command, cwd=root / f"node{k}", env=env, stdout=console,
                                            stderr=subprocess.STDOUT))
    try:
        for process in started:
            process.wait(timeout=300)  # generous: a stuck rank would wait for hours
    finally:
        for process in started:
            process.kill()
    records = []
    for rank in (0, 1):
        assert (out / f"rank{rank}.json").is_file(), (out / f"torchrun{rank}.txt").read_text()[-3000:]
        record = json.loads((out / f"rank{rank}.json").read_text())
        (log,) = (out / f"log{rank}").rglob("stderr.log")
        records.append({**record, "stderr": log.read_text(), "torchrun": (out / f"torchrun{rank}.txt").read_text()})
    return records


@pytest.fixture(scope="module")
def two_nodes(tiny_data, tmp_path_factory):
    """A run trained on two machines, resumed on both (sharing a cache folder), then resumed where
    the second machine lacks last.pt; each launch's records and the folders."""
    root = tmp_path_factory.mktemp("two_nodes")
    node0, node1 = root / "node0", root / "node1"
    node0.mkdir()
    node1.mkdir()
    ids = pd.read_csv(tiny_data / "eval" / "info.csv", dtype=str)["ImageID"][:PSEUDO_ROWS]
    pd.DataFrame({"ImageID": ids, "ans": [0, 4, 13, 17]}).to_csv(root / "pseudo.csv", index=False)
    values = {"data_dir": f"'{tiny_data}'", "runs_dir": "'runs'", "backbone": "'test_resnet'", "image_size": "(32,32)",
              "batch_size": 16, "epochs": 1, "folds": 3, "num_workers": 0, "inference_batch_size": 32,
              "plots": False, "device": "'cpu'", "cache": "'disk'", "pseudo_labels": f"'{root / 'pseudo.csv'}'"}
    sets = [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    # Relative folders: each machine its own runs/ and cache/ in its working folder.
    trained = _launch(root, "train", [*sets, "--set", "cache_dir='cache'"])
    assert [r["exit"] for r in trained] == [0, 0], [r["stderr"][-2000:] for r in trained]
    assert [r["node"] for r in trained] == ["node0", "node1"], "c10d no longer orders the machines by address"
    lonely = not (node1 / "runs").exists()  # the second machine made no run folder
    (run,) = (node0 / "runs").iterdir()
    shutil.copytree(run, node1 / "runs" / run.name)  # the second machine's copy of the run folder
    decoy = node1 / "runs" / "run-29990101-000000"  # newer there: `--resume auto` on that machine would pick it
    decoy.mkdir()
    saved = json.loads((run / "config.json").read_text())
    (decoy / "config.json").write_text(json.dumps({**saved, "batch_size": 8}))
    resumed = _launch(root, "resume", ["--resume", "auto", *sets, "--set", "epochs=2",
                                       "--set", f"cache_dir='{root / 'shared'}'"])
    shutil.rmtree(node1 / "runs" / run.name)
    shutil.copytree(run, node1 / "runs" / run.name)
    (node1 / "runs" / run.name / "last.pt").unlink()
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    refused = _launch(root, "refused", ["--resume", f"runs/{run.name}", "--set", "epochs=3"])
    return {"root": root, "run": run, "lonely": lonely, "trained": trained, "resumed": resumed, "refused": refused,
            "unchanged": before == {p.name: p.stat().st_mtime_ns for p in run.iterdir()}}


def test_rank_0_decides_the_run_for_both_machines(two_nodes):
    trained, run, root = two_nodes["trained"], two_nodes["run"], two_nodes["root"]
    assert two_nodes["lonely"]  # rank 0 alone made the run folder, on its machine
    log = (run / "train.log").read_text()
    assert f"{TRAIN} train / {VAL} val images" in log and "x 2 processes" in log  # rank 0's pseudo rows, on both
    for node in ("node0", "node1"):  # each machine its own disk cache, built by its own process
        assert len(list((root / node / "cache").glob("*.npy"))) == 2
    assert [sorted(r["built"]) for r in trained] == [[VAL, TRAIN], [VAL, TRAIN]]


def test_a_resume_continues_the_run_rank_0_found(two_nodes):
    resumed, run = two_nodes["resumed"], two_nodes["run"]
    assert [r["exit"] for r in resumed] == [0, 0], [r["stderr"][-2000:] for r in resumed]
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2]
    assert f"resumed from runs/{run.name}/last.pt after epoch 1" in (run / "train.log").read_text()


def test_a_shared_cache_folder_is_built_once_and_never_replaced(two_nodes):
    resumed, shared = two_nodes["resumed"], two_nodes["root"] / "shared"
    files = {p.name: p.stat().st_ino for p in shared.glob("*.npy")}
    assert len(files) == 2 and sorted(n for r in resumed for n in r["built"]) == [VAL, TRAIN]  # each file once
    for record in resumed:  # both machines mapped the very files that are there now
        assert {name: inode for name, inode in record["mapped"]} == files
    assert sorted(p.name for p in shared.iterdir()) == sorted(files)  # no lock or temp file left


def test_a_machine_without_last_pt_stops_both_with_one_line(two_nodes):
    refused, run = two_nodes["refused"], two_nodes["run"]
    assert [r["exit"] for r in refused] == [2, 2]
    for record in refused:  # the processes' own exit codes, as torchrun saw them: no abort at exit
        assert set(re.findall(r"exitcode\s*:\s*(-?\d+)", record["torchrun"])) == {"2"}, record["torchrun"][-3000:]
        (line,) = record["stderr"].strip().splitlines()
        assert line.startswith(f"error: runs/{run.name}/last.pt: missing on ") and "(rank 1)" in line, line
        assert "shared file system" in line, line
    assert two_nodes["unchanged"]  # nothing in the run folder changed


# ---- the pieces, in one process ----------------------------------------------------------------

def test_every_process_gets_rank_0s_answer_or_its_error(monkeypatch):
    second = distributed.World(rank=1, size=2)
    monkeypatch.setattr(distributed, "broadcast", lambda value, world: "rank 0's")
    assert distributed.on_rank_0(lambda: pytest.fail("only rank 0 works"), second) == "rank 0's"
    monkeypatch.setattr(distributed, "broadcast", lambda value, world: UserError("data_dir x: not found"))
    with pytest.raises(UserError, match="data_dir x: not found"):
        distributed.on_rank_0(lambda: "ignored", second)


@pytest.mark.parametrize("other, problem", [(None, "missing on node1 (rank 1)"), ("another", "differs from rank 0's"),
                                            ("same", None)])
def test_a_run_file_must_be_the_same_on_every_machine(tmp_path, monkeypatch, other, problem):
    path = tmp_path / "last.pt"
    path.write_bytes(b"weights")
    mine = distributed._digest(path)
    monkeypatch.setattr(distributed, "gather",
                        lambda value, world: [value, ("node1 (rank 1)", mine if other == "same" else other)])
    first = distributed.World(rank=0, size=2)
    if problem is None:
        distributed.same_everywhere(path, first)
    else:
        with pytest.raises(UserError, match="shared file system") as err:
            distributed.same_everywhere(path, first)
        assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)
    monkeypatch.setattr(distributed, "gather", lambda value, world: [value, ("node1 (rank 1)", None)])
    distributed.same_everywhere(tmp_path / "none-has-it", first)  # the caller's own check speaks then


def _writer(text: str, calls: list):
    def write(tmp: Path) -> None:
        calls.append(text)
        tmp.write_text(text)
    return write


def test_one_builder_the_other_waits_and_reads_its_file(tmp_path, monkeypatch):
    path, calls = tmp_path / "cache.npy", []
    building, waiting = threading.Event(), threading.Event()

    def slow(tmp: Path) -> None:
        building.set()
        assert waiting.wait(60), "the second builder never waited"
        _writer("first", calls)(tmp)

    def pause(seconds: float) -> None:
        waiting.set()
        time.sleep(0.01)

    monkeypatch.setattr(lock, "_pause", pause)
    results = {}
    first = threading.Thread(target=lambda: results.update(first=lock.build_once(path, slow)))
    first.start()
    assert building.wait(60)
    second = threading.Thread(target=lambda: results.update(second=lock.build_once(path, _writer("second", calls))))
    second.start()
    first.join(60)
    second.join(60)
    assert results == {"first": True, "second": False} and calls == ["first"] and path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.npy"]  # no lock or temp file left


def test_an_existing_cache_file_is_never_replaced(tmp_path):
    path, calls = tmp_path / "cache.npy", []
    path.write_text("built before")
    inode = path.stat().st_ino
    assert not lock.build_once(path, _writer("again", calls)) and calls == []

    def raced(tmp: Path) -> None:  # another machine publishes while this one writes
        calls.append("raced")
        later.write_text("theirs")
        tmp.write_text("mine")

    later = tmp_path / "later.npy"
    assert not lock.build_once(later, raced) and calls == ["raced"] and later.read_text() == "theirs"
    assert path.stat().st_ino == inode and path.read_text() == "built before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npy", "later.npy"]


def _lock_of(path: Path, host: str, pid: int) -> Path:
    held = path.with_name(path.name + ".lock")
    held.write_text(json.dumps({"host": host, "pid": pid, "started": 0}))
    return held


def test_a_stale_lock_is_taken_over(tmp_path, monkeypatch):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    here = tmp_path / "here.npy"  # its builder, a process of this host, is gone: taken over at once
    _lock_of(here, socket.gethostname(), int(gone.stdout))
    monkeypatch.setattr(lock, "_pause", lambda seconds: pytest.fail("waited for a builder that is gone"))
    assert lock.build_once(here, _writer("built", [])) and here.read_text() == "built"
    clock = [0.0]  # another machine's builder whose lock stopped moving: taken over after STALE_SECONDS
    monkeypatch.setattr(lock, "_clock", lambda: clock[0])
    monkeypatch.setattr(lock, "_pause", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    elsewhere = tmp_path / "elsewhere.npy"
    _lock_of(elsewhere, "another-machine", 1)
    assert lock.build_once(elsewhere, _writer("built", [])) and clock[0] > lock.STALE_SECONDS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.npy", "here.npy"]


def test_a_live_builder_elsewhere_is_waited_for(tmp_path, monkeypatch):
    path, calls, clock = tmp_path / "cache.npy", [], [0.0]
    held = _lock_of(path, "another-machine", 1)

    def pause(seconds: float) -> None:  # its heartbeat moves the lock each time; then it finishes
        clock[0] += 2 * lock.STALE_SECONDS
        if clock[0] > 10 * lock.STALE_SECONDS:
            path.write_text("theirs")
            held.unlink()
        else:
            os.utime(held, ns=(int(clock[0] * 1e9), int(clock[0] * 1e9)))

    monkeypatch.setattr(lock, "_clock", lambda: clock[0])
    monkeypatch.setattr(lock, "_pause", pause)
    assert not lock.build_once(path, _writer("mine", calls)) and calls == [] and path.read_text() == "theirs"
