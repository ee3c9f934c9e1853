"""Two CPU processes with gloo under torchrun: disjoint data, one writer, the same validation F1."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import inference

ROOT = Path(__file__).resolve().parent.parent


def test_torchrun_two_processes_train_one_run(tiny_overrides, tmp_path, capsys):
    seen = tmp_path / "seen"
    seen.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [a for o in tiny_overrides + ["epochs=2", "device='cpu'"] for a in ("--set", o)]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "tests/ddp_probe.py", str(seen), *sets], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()  # rank 0 alone made a run folder
    assert {"config.json", "split.csv", "metrics.csv", "best.pt", "last.pt", "train.log"} <= {
        p.name for p in run.iterdir()}
    assert "x 2 processes" in (run / "train.log").read_text()
    train_rows = 168  # the tiny data's training images
    for epoch in (1, 2):
        a, b = ([int(i) for i in (seen / f"rank{r}-epoch{epoch}.txt").read_text().split()] for r in (0, 1))
        assert not set(a) & set(b) and len(a) == len(b) == train_rows // 2
        assert sorted(a + b) == list(range(train_rows))
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    capsys.readouterr()
    single = inference.main(["--run", str(run), "--checkpoint", "last", "--evaluate"])
    assert single["no TTA"]["val_f1"] == pytest.approx(metrics["val_f1"].iloc[-1], abs=1e-12)
