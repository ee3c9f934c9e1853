"""tune.py --workers K on one machine: each worker's GPU through the parent's visible list, and its
share of the CPU cores. No GPU and no real process needed: Popen is replaced by a recorder."""
from __future__ import annotations

import os

import pytest
import torch

from base.base_data_loader import default_workers
from tuning import worker
from tuning.worker import core_shares, worker_devices

UUID = "GPU-8f3c2b1a-4d5e-6f70-8192-a3b4c5d6e7f8"
MIG = "MIG-GPU-8f3c2b1a-4d5e-6f70-8192-a3b4c5d6e7f8/1/0"
MIG_NEW = "MIG-5c2e9d1b-7a3f-5e8d-9c0b-1f2e3d4c5b6a"


def test_workers_take_the_parents_visible_gpus_not_physical_numbers():
    assert worker_devices({"CUDA_VISIBLE_DEVICES": "4,5"}, 2, 3) == ["4", "5", "4"]
    assert worker_devices({"CUDA_VISIBLE_DEVICES": " 6, 2 "}, 2, 2) == ["6", "2"]


def test_uuid_and_mig_entries_pass_through_verbatim():
    env = {"CUDA_VISIBLE_DEVICES": f"{UUID},{MIG},{MIG_NEW}"}
    assert worker_devices(env, 3, 4) == [UUID, MIG, MIG_NEW, UUID]


def test_entries_cuda_does_not_see_are_not_handed_out():
    # CUDA reads the list up to its first empty or invalid entry; device_count says how far it got
    assert worker_devices({"CUDA_VISIBLE_DEVICES": "4,5,99"}, 2, 3) == ["4", "5", "4"]
    assert worker_devices({"CUDA_VISIBLE_DEVICES": "3,,5"}, 1, 2) == ["3", "3"]


def test_without_the_variable_the_devices_are_counted_from_0():
    assert worker_devices({}, 2, 2) == ["0", "1"]
    assert worker_devices({}, 2, 3) == ["0", "1", "0"]


def test_without_a_gpu_no_worker_gets_a_device():
    assert worker_devices({}, 0, 3) == [None, None, None]
    assert worker_devices({"CUDA_VISIBLE_DEVICES": ""}, 0, 2) == [None, None]


@pytest.mark.parametrize("cores, workers", [(range(8), 3), (range(16), 4), ([2, 3, 6, 7, 9], 2), (range(4), 4)])
def test_core_shares_partition_the_cores(cores, workers):
    shares = core_shares(cores, workers)
    assert len(shares) == workers and all(shares)
    assert sorted(c for share in shares for c in share) == sorted(cores)  # each core once
    assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert core_shares(range(8), 3) == [[0, 1], [2, 3, 4], [5, 6, 7]]


def test_more_workers_than_cores_get_one_core_each():
    assert core_shares([0, 1], 3) == [[0], [1], [0]]


class _Machine:
    """Popen, sched_getaffinity and sched_setaffinity of a machine with `cores` cores, recording
    what each started process gets: its environment and the affinity it inherits."""

    def __init__(self, monkeypatch, cores: int):
        self.mask, self.started = set(range(cores)), []
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(self.mask), raising=False)
        monkeypatch.setattr(os, "sched_setaffinity", self.set_mask, raising=False)
        machine = self

        class Popen:
            def __init__(self, args, env):
                machine.started.append({"args": args, "env": env, "cores": sorted(machine.mask)})

            def wait(self) -> int:
                return 0

        monkeypatch.setattr(worker.subprocess, "Popen", Popen)

    def set_mask(self, pid: int, cores) -> None:
        assert pid == 0  # this thread only: a child inherits its starter's affinity
        self.mask = set(cores)


def test_spawn_maps_gpus_through_the_parents_list_and_pins_each_worker(monkeypatch, tmp_path):
    machine = _Machine(monkeypatch, cores=12)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    worker.spawn(tmp_path, None, 3)
    assert [p["env"]["CUDA_VISIBLE_DEVICES"] for p in machine.started] == ["4", "5", "4"]
    assert [p["cores"] for p in machine.started] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert [p["env"]["OMP_NUM_THREADS"] for p in machine.started] == ["4", "4", "4"]
    assert [p["args"][-1] for p in machine.started] == ["0", "1", "2"]
    assert machine.mask == set(range(12))  # the tuner itself keeps every core
    assert "3 workers on 2 GPU(s)" in (tmp_path / "tune.log").read_text()


def test_spawn_without_a_gpu_sets_no_device_and_splits_the_cores(monkeypatch, tmp_path):
    machine = _Machine(monkeypatch, cores=8)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    worker.spawn(tmp_path, None, 2)
    assert all("CUDA_VISIBLE_DEVICES" not in p["env"] for p in machine.started)
    assert [p["cores"] for p in machine.started] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [p["env"]["OMP_NUM_THREADS"] for p in machine.started] == ["4", "4"]
    assert not (tmp_path / "tune.log").exists() or "GPU" not in (tmp_path / "tune.log").read_text()


def test_one_worker_per_gpu_says_nothing_about_sharing(monkeypatch, tmp_path):
    machine = _Machine(monkeypatch, cores=4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    worker.spawn(tmp_path, None, 2)
    assert [p["env"]["CUDA_VISIBLE_DEVICES"] for p in machine.started] == ["0", "1"]
    assert not (tmp_path / "tune.log").exists() or "share" not in (tmp_path / "tune.log").read_text()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_a_pinned_worker_sizes_its_auto_loader_workers_by_its_share():
    """The real affinity call: the DataLoader's auto num_workers (with a GPU) counts the share."""
    mine = sorted(os.sched_getaffinity(0))
    with worker.pinned(mine[:1]):
        assert os.sched_getaffinity(0) == {mine[0]}
        assert default_workers(-1, torch.device("cuda")) == 0  # one core: the main process feeds the GPU
    assert sorted(os.sched_getaffinity(0)) == mine
