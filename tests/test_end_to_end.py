"""train.py -> resume -> inference.py on the tiny demo data, through the CLI entry points."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import inference
import train
from base.base_trainer import BaseTrainer

ROOT = Path(__file__).resolve().parent.parent


def _runs(tmp_path):
    return sorted((tmp_path / "runs").iterdir())


def test_train_writes_a_complete_run_folder(tiny_overrides, tmp_path):
    best = train.main([*[a for o in tiny_overrides for a in ("--set", o)], "--set", "epochs=2"])
    (run,) = _runs(tmp_path)
    expected = {"config.json", "split.csv", "metrics.csv", "best.pt", "last.pt", "train.log"}
    assert expected <= {p.name for p in run.iterdir()}
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    assert {"val_f1", "val_f1_mask", "val_f1_gender", "val_f1_age", "train_loss", "lr"} <= set(metrics.columns)
    assert best["val_f1"] == metrics["val_f1"].max()
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 2 and config["backbone"] == "test_resnet"
    assert torch.load(run / "last.pt", weights_only=True)["config"] == config
    split = pd.read_csv(run / "split.csv", dtype={"person": str})
    assert set(split["role"]) == {"train", "val"} and split["person"].is_unique


def test_resume_ends_where_an_uninterrupted_run_ends(tiny_overrides, tmp_path, monkeypatch):
    sets = [a for o in tiny_overrides for a in ("--set", o)] + ["--set", "epochs=3"]
    train.main([*sets, "--set", "name=straight"])
    end_epoch = BaseTrainer.end_epoch

    def crash_after_first_epoch(self, row):
        end_epoch(self, row)
        raise KeyboardInterrupt  # the checkpoint of epoch 1 is on disk, epoch 2 never starts

    monkeypatch.setattr(BaseTrainer, "end_epoch", crash_after_first_epoch)
    with pytest.raises(SystemExit):
        train.main([*sets, "--set", "name=stopped"])
    monkeypatch.setattr(BaseTrainer, "end_epoch", end_epoch)
    straight, stopped = _runs(tmp_path)[1], _runs(tmp_path)[0]
    assert stopped.name.startswith("stopped") and len(pd.read_csv(stopped / "metrics.csv")) == 1
    train.main(["--resume", str(stopped)])
    a = torch.load(straight / "last.pt", weights_only=True)["model"]
    b = torch.load(stopped / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = pd.read_csv(straight / "metrics.csv"), pd.read_csv(stopped / "metrics.csv")
    assert mb["epoch"].tolist() == [1, 2, 3]
    cols = [c for c in ma.columns if c != "seconds"]
    pd.testing.assert_frame_equal(ma[cols], mb[cols])


def test_resume_refuses_changed_knobs(tiny_overrides, tmp_path, capsys):
    train.main([a for o in tiny_overrides for a in ("--set", o)])
    (run,) = _runs(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        train.main(["--resume", str(run), "--set", "lr=0.5", "--set", "backbone=resnet18"])
    assert exit_.value.code == 2
    assert "knobs differ from the saved run: backbone, lr" in capsys.readouterr().err


def test_inference_writes_submission_row_for_row(tiny_overrides, tiny_data, tmp_path):
    train.main([a for o in tiny_overrides for a in ("--set", o)])
    (run,) = _runs(tmp_path)
    out = tmp_path / "sub" / "submission.csv"
    result = inference.main(["--run", str(run), "--out", str(out)])
    info = pd.read_csv(tiny_data / "eval" / "info.csv")
    sub = pd.read_csv(out)
    assert list(sub.columns) == list(info.columns)
    assert sub["ImageID"].tolist() == info["ImageID"].tolist()
    assert sub["ans"].dtype.kind == "i" and sub["ans"].between(0, 17).all()
    assert result["rows"] == len(info) and 0 <= result["f1"] <= 1  # scored against the demo answers
    assert not list(out.parent.glob(".*tmp"))


def test_inference_without_a_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    result = subprocess.run([sys.executable, "inference.py", "--run", str(tmp_path / "run"),
                             "--out", str(tmp_path / "s.csv")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "no config.json there" in result.stderr and not (tmp_path / "s.csv").exists()


def test_cli_help():
    for script in ("train.py", "inference.py"):
        result = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0 and "usage:" in result.stdout
