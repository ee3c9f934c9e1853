"""A run resumes on another machine, another GPU count or another precision, and says where it
is then no longer bit-exact; what is CUDA-only is tested with the device calls replaced."""
import json

import pandas as pd
import pytest
import torch
from fake_clock import fake_laps

import inference
import train
from base import checkpoint_files, memory_layout
from base import config as config_lib
from data_loader.demo_data import default_cache_dir
from trainer import get_trainer


def _sets(overrides: list[str], *more: str) -> list[str]:
    return [a for o in [*overrides, *more] for a in ("--set", o)]


class FakeCuda:
    """torch.cuda as a machine with `count` GPUs shows it, `current` the current one; RNG states
    are tagged tensors and what is restored is recorded."""

    def __init__(self, monkeypatch, count: int = 1, current: int = 0):
        self.count, self.current, self.restored = count, current, []
        for name, value in {"is_available": lambda: True, "is_initialized": lambda: True,
                            "device_count": lambda: self.count, "current_device": lambda: self.current,
                            "get_rng_state": lambda device=None: torch.tensor([100 + device], dtype=torch.uint8),
                            "set_rng_state": lambda state, device=None: self.restored.append((int(state[0]), device)),
                            "set_device": lambda device: setattr(self, "current", torch.device(device).index),
                            }.items():
            monkeypatch.setattr(torch.cuda, name, value)


def test_a_checkpoint_from_8_gpus_resumes_on_a_machine_that_sees_1(monkeypatch):
    cpu = checkpoint_files.rng_state()
    cuda = FakeCuda(monkeypatch, count=1)
    eight = {**cpu, "cuda": [torch.tensor([i], dtype=torch.uint8) for i in range(8)]}  # as saved before: all GPUs
    assert checkpoint_files.set_rng_state(eight) is None  # no IndexError: the current device's own state
    assert cuda.restored == [(0, 0)]


def test_a_process_on_a_gpu_the_checkpoint_has_no_state_for_goes_on_with_a_note(monkeypatch):
    cpu = checkpoint_files.rng_state()
    FakeCuda(monkeypatch, count=4, current=3)
    two = {**cpu, "cuda": [torch.tensor([i], dtype=torch.uint8) for i in range(2)]}
    note = checkpoint_files.set_rng_state(two)
    assert "2 GPU(s), none for cuda:3" in note


def test_each_process_saves_and_restores_its_own_gpu_state_only(monkeypatch):
    cuda = FakeCuda(monkeypatch, count=8, current=5)
    state = checkpoint_files.rng_state()
    assert "cuda" not in state and int(state["cuda_device"][0]) == 105  # not all eight
    cuda.current = 0  # resumed on another GPU, or with fewer visible
    assert checkpoint_files.set_rng_state(state) is None and cuda.restored == [(105, 0)]


def test_cuda_n_becomes_the_current_device(monkeypatch):
    from base.distributed import join
    from base.errors import UserError

    cuda = FakeCuda(monkeypatch, count=2)
    assert join("cuda:1")[0] == torch.device("cuda", 1) and cuda.current == 1
    with pytest.raises(UserError, match="2 CUDA GPU"):
        join("cuda:2")


def test_a_bf16_checkpoint_resumed_where_amp_means_fp16_starts_a_fresh_scaler(tiny_overrides, tmp_path, capsys):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    trainer = get_trainer("single")(config_lib.from_dict(json.loads((run / "config.json").read_text()), "test"))
    table = trainer.split_tables()[0]
    trainer.steps_per_epoch = len(trainer.loader(table, train=True))
    trainer.build_updater()
    trainer.updater.scaler = torch.amp.GradScaler("cpu", enabled=True)  # what amp="auto" gives on a V100
    trainer.run = run
    capsys.readouterr()
    assert trainer.restore(run / "last.pt", *trainer.read_last(run)) == 2
    assert "a fresh GradScaler starts" in capsys.readouterr().err


def test_a_run_trained_in_fp16_is_predicted_on_a_cpu_in_float32(tiny_overrides, tmp_path, capsys):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**saved, "amp": "fp16"}))  # as a V100 run writes it
    capsys.readouterr()
    result = inference.main(["--run", str(run), "--out", str(tmp_path / "sub.csv")])
    assert result["rows"] == 28
    assert "trained with amp=fp16, which needs CUDA; predicting on cpu in float32" in capsys.readouterr().err


def test_resuming_a_time_limited_run_without_the_limit_trains_the_configured_epochs(tiny_overrides, tmp_path,
                                                                                     monkeypatch):
    fake_laps(monkeypatch, [60.0])  # every epoch "takes" a minute: 1.5 minutes fit one epoch of 3
    train.main(_sets(tiny_overrides, "epochs=3", "time_limit_minutes=1.5"))
    (run,) = (tmp_path / "runs").iterdir()
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1]
    train.main(["--resume", str(run), "--set", "time_limit_minutes=0"])
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2, 3]


def test_resuming_under_a_longer_limit_plans_for_it_at_once(tiny_overrides, tmp_path, monkeypatch):
    fake_laps(monkeypatch, [60.0])
    train.main(_sets(tiny_overrides, "epochs=4", "time_limit_minutes=1.5"))
    (run,) = (tmp_path / "runs").iterdir()
    rows = pd.read_csv(run / "metrics.csv")
    rows.assign(seconds=60.0).to_csv(run / "metrics.csv", index=False)  # epoch 1 "took" its minute
    fake_laps(monkeypatch, [60.0])
    train.main(["--resume", str(run), "--set", "time_limit_minutes=3.5"])  # epoch 1's minute + two more
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2, 3]
    assert "3 of 4 epochs fit" in (run / "train.log").read_text()


def test_a_resumed_run_keeps_its_memory_layout_whatever_the_timing_cache_says(tiny_overrides, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("MASK18_CACHE", str(tmp_path / "cache"))
    cache = default_cache_dir() / "memory_layouts.json"
    cache.parent.mkdir(parents=True)
    key = memory_layout.layout_key(config_lib.load(overrides=tiny_overrides), torch.device("cpu"), None)
    cache.write_text(json.dumps({key: {"channels_last": 1.0, "contiguous": 2.0}}))  # this machine: NHWC
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    assert checkpoint_files.load(run / "last.pt")["channels_last"] is True
    cache.write_text(json.dumps({key: {"channels_last": 2.0, "contiguous": 1.0}}))  # another machine: NCHW
    train.main(["--resume", str(run), "--set", "epochs=2"])
    assert checkpoint_files.load(run / "last.pt")["channels_last"] is True
    assert "kept from last.pt" in (run / "train.log").read_text()




def test_a_checkpoint_from_inside_an_epoch_needs_as_many_processes(tiny_cfg, tmp_path):
    from base.distributed import World
    from base.epoch_progress import EpochProgress
    from base.errors import UserError

    def ready(trainer):
        trainer.run = tmp_path
        trainer.steps_per_epoch = len(trainer.loader(trainer.split_tables()[0], train=True))
        trainer.build_updater()
        trainer.best, trainer.stale = None, 0
        return trainer

    one = ready(get_trainer("single")(tiny_cfg))
    one.progress = EpochProgress(1, lr=0.1, step=3)  # 3 steps into epoch 1, one process's share
    one.save_last(0)
    two = ready(get_trainer("single")(tiny_cfg))
    two.world = World(rank=0, size=2, local_size=2)  # as rank 0 of two processes sees it
    with pytest.raises(UserError, match=r"written inside an epoch by 1 process\(es\); resume it with as many"):
        two.restore(tmp_path / "last.pt", *two.read_last(tmp_path))
