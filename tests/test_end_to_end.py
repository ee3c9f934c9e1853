"""train.py -> inference.py on the tiny demo data, through the CLI entry points (resume: test_resume.py)."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

import inference
import train

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
