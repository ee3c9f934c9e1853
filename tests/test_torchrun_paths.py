"""Every path a torchrun user can take, on two CPU processes with gloo: run groups make one
folder, weight averaging and resume follow rank 0, the disk cache is built once per machine,
replicas draw their own random numbers, and the process group is left at the end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import inference
import train
from base import checkpoint_files
from base.base_data_loader import default_workers
from data_loader import image_cache

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def torchrun_runs(tiny_data, tmp_path_factory):
    """The runs tests/ddp_paths.py makes with 2 processes, and what each process recorded."""
    root = tmp_path_factory.mktemp("torchrun")
    out = root / "out"
    out.mkdir()
    values = {"data_dir": f"'{tiny_data}'", "runs_dir": f"'{root / 'runs'}'", "backbone": "'test_resnet'",
              "image_size": "(32,32)", "batch_size": 16, "epochs": 1, "num_workers": 0, "inference_batch_size": 32,
              "plots": False, "device": "'cpu'"}
    sets = [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "tests/ddp_paths.py", str(out), *sets], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    runs = {p.name.split("-")[0]: p for p in (root / "runs").iterdir()}
    return runs, out, sorted(p.name for p in (root / "runs").iterdir())


def test_run_groups_make_one_folder_that_every_process_trains_into(torchrun_runs):
    runs, _, folders = torchrun_runs
    assert [f.split("-")[0] for f in folders] == ["average", "kfold", "separate", "stopped"]  # no stray folder
    assert {"fold0", "fold1", "metrics.csv", "oof.csv"} <= {p.name for p in runs["kfold"].iterdir()}
    assert all((runs["kfold"] / f / "best.pt").is_file() for f in ("fold0", "fold1"))
    assert {"mask", "gender", "age", "metrics.csv"} <= {p.name for p in runs["separate"].iterdir()}
    assert "x 2 processes" in (runs["separate"] / "age" / "train.log").read_text()


def test_average_last_scores_the_model_it_saves(torchrun_runs, capsys):
    runs, _, _ = torchrun_runs
    run = runs["average"]
    saved = pd.read_csv(run / "averaged.csv")
    assert saved["epochs"].tolist() == ["2-3"]
    capsys.readouterr()
    again = inference.main(["--run", str(run), "--checkpoint", "averaged", "--evaluate"])
    assert again["no TTA"]["val_f1"] == pytest.approx(saved["val_f1"].iloc[0], abs=1e-12)


def test_rank_0_alone_reads_checkpoints_on_resume(torchrun_runs):
    runs, out, _ = torchrun_runs
    run = runs["average"]
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2, 3]
    assert "resumed from" in (run / "train.log").read_text()  # and rank 1 never read a checkpoint
    rng = checkpoint_files.load(run / "last.pt")["rng"]
    assert isinstance(rng, list) and len(rng) == 2 and not torch.equal(rng[0]["torch"], rng[1]["torch"])


def test_a_run_of_two_processes_resumes_in_one_and_says_it_is_no_longer_exact(torchrun_runs, capsys):
    runs, _, _ = torchrun_runs
    run = runs["average"]
    capsys.readouterr()
    train.main(["--resume", str(run), "--set", "epochs=4"])
    err = capsys.readouterr().err
    assert "written by 2 process(es), resumed by 1" in err and "not bit-exact" in err
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2, 3, 4]


def test_custom_imports_reach_every_process_and_a_callback_on_rank_0_stops_them_all_for_good(torchrun_runs):
    runs, _, _ = torchrun_runs
    run = runs["stopped"]
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1]
    log = (run / "train.log").read_text()
    assert "resumed from" in log and log.count("stopped after epoch 1: a callback's stop") == 2
    assert checkpoint_files.load(run / "last.pt")["stopped"] == "a callback's stop"


def test_the_disk_cache_is_built_once_per_machine(torchrun_runs):
    _, out, _ = torchrun_runs
    assert (out / "fill-rank0.txt").is_file() and not (out / "fill-rank1.txt").exists()
    assert len(list((out / "cache").glob("*.npy"))) == 2  # training and validation pictures, one file each


def test_replicas_start_alike_and_then_draw_their_own_numbers(torchrun_runs):
    _, out, _ = torchrun_runs
    first = [json.loads((out / f"init-rank{r}.txt").read_text().splitlines()[0]) for r in (0, 1)]
    assert first[0]["weights"] == first[1]["weights"] and first[0]["draw"] != first[1]["draw"]


def test_train_py_leaves_the_process_group_at_the_end(torchrun_runs):
    _, out, _ = torchrun_runs
    assert [(out / f"done-rank{r}.txt").read_text().strip() for r in (0, 1)] == ["False", "False"]


def test_processes_on_one_machine_share_its_cores_and_memory(tiny_cfg, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(32)), raising=False)
    cuda = torch.device("cuda")
    assert default_workers(-1, cuda) == 8 and default_workers(-1, cuda, processes=8) == 3
    files = ["x"] * 1000  # 1000 pictures at 32x32: 3 MB
    budget = 1000 * 32 * 32 * 3 / 2**30
    cfg = tiny_cfg.replace(cache="auto", cache_memory_gb=budget)
    assert image_cache.cache_mode(files, cfg) == "memory" and image_cache.cache_mode(files, cfg, 2) == "disk"


def test_each_process_binds_its_own_gpu_before_joining_the_group(monkeypatch):
    from base import distributed

    current, joined = [], []
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: current.append(torch.device(device)))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend, **kw: joined.append((backend, kw)))
    monkeypatch.setattr(distributed.dist, "new_group", lambda **kw: joined.append(("group", kw)))
    for name, value in {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    device = distributed.local_device(torch.device("cuda"))
    world = distributed.init_from_env(device)
    assert device == torch.device("cuda", 1) and current == [device]  # cuda:LOCAL_RANK, made current
    assert joined == [("nccl", {"device_id": device}),  # nccl bound to it, no context on GPU 0
                      ("group", {"backend": "gloo", "timeout": distributed.CONTROL_TIMEOUT})]  # the run's messages
    assert (world.rank, world.size, world.local_rank, world.local_size) == (3, 4, 1, 2)
    with distributed.alone():  # rank 0's work for everyone: no group, no collective calls, its own GPU still
        assert distributed.init_from_env(device) == distributed.World() and distributed.env_rank() == 0
        assert distributed.local_device(torch.device("cuda", 0)) == device


def test_gloo_lets_more_processes_than_gpus_share_them_and_nccl_says_how_many(monkeypatch):
    """The GPU check's two processes on a one-GPU machine: ddp_backend="gloo" puts both on cuda:0
    and joins over gloo; the default refuses with one line naming --nproc_per_node."""
    from base import distributed
    from base.errors import UserError

    joined = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend, **kw: joined.append(backend))
    monkeypatch.setattr(distributed.dist, "new_group", lambda **kw: None)
    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    device = distributed.local_device(torch.device("cuda"), "gloo")
    distributed.init_from_env(device, "gloo")
    assert device == torch.device("cuda", 0) and joined == ["gloo"]
    with pytest.raises(UserError, match=r"local rank 1 .* 1 CUDA GPU\(s\) .*--nproc_per_node=1, or set "
                                        r"ddp_backend='gloo'"):
        distributed.local_device(torch.device("cuda"))


def test_a_resume_joins_with_the_runs_own_backend_and_device(tmp_path):
    """A run started with ddp_backend='gloo' (processes sharing a GPU) resumes on it without the
    command repeating it; what the command says still wins."""
    from base import config as config_lib
    from base import resume

    run = tmp_path / "run"
    run.mkdir()
    saved = config_lib.load(overrides=["ddp_backend='gloo'", "device='cuda'"])
    (run / "config.json").write_text(json.dumps(saved.to_dict()))
    now = config_lib.load()
    guess = resume._local_guess(now, None, [], str(run))
    assert (guess.ddp_backend, guess.device) == ("gloo", "cuda")
    assert resume._local_guess(now, None, ["device='cpu'"], str(run)).device == "cpu"
    assert resume._local_guess(now, None, [], str(tmp_path / "nothing")) is now  # rank 0 will say what is wrong
