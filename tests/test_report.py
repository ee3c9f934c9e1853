"""`python -m logger.report` lists runs best first, with the knobs that differ between them."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

import train
from base import config as config_lib
from logger import report

ROOT = Path(__file__).resolve().parent.parent


def _fake_run(folder: Path, f1s: list[float], **knobs) -> Path:
    """A run folder as train.py leaves it, as far as the report reads it."""
    folder.mkdir(parents=True)
    cfg = {**config_lib.load().to_dict(), **knobs}
    (folder / "config.json").write_text(json.dumps(cfg))
    rows = [{"epoch": e + 1, "val_f1": f, "val_f1_mask": f, "val_f1_gender": 1.0, "val_f1_age": f / 2,
             "val_loss": 1 - f, "seconds": 10.0} for e, f in enumerate(f1s)]
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    return folder


def test_runs_are_sorted_by_their_monitored_metric(tmp_path, capsys):
    _fake_run(tmp_path / "a", [0.5, 0.7, 0.6], lr=0.01)
    _fake_run(tmp_path / "b", [0.9, 0.8], lr=0.001, backbone="resnet18")
    _fake_run(tmp_path / "c", [0.2])
    frame = report.main([str(tmp_path / n) for n in ("a", "b", "c")])
    assert frame["run"].tolist() == ["b", "a", "c"]
    assert frame["f1"].tolist() == ["0.9000", "0.7000", "0.2000"]
    assert frame["best/epochs"].tolist() == ["1/2", "2/3", "1/1"]
    assert frame["wall"].tolist() == ["20s", "30s", "10s"]
    assert "lr" in frame.columns and "seed" not in frame.columns  # only the knobs that differ
    assert frame["backbone"].tolist() == ["resnet18", "resnet10t", "resnet10t"]
    out = capsys.readouterr().out
    assert out.index("b ") < out.index("a ") < out.index("c ")


def test_a_min_monitor_sorts_ascending(tmp_path):
    _fake_run(tmp_path / "low", [0.9], monitor="val_loss", monitor_mode="min")
    _fake_run(tmp_path / "high", [0.6], monitor="val_loss", monitor_mode="min")
    assert report.main([str(tmp_path / "high"), str(tmp_path / "low")])["run"].tolist() == ["low", "high"]


def test_a_real_run_and_a_group_are_one_row_each(tiny_overrides, tmp_path, capsys, monkeypatch):
    train.main([a for o in tiny_overrides for a in ("--set", o)])
    (run,) = (tmp_path / "runs").iterdir()
    group = _fake_run(tmp_path / "runs" / "group", [0.99], trainer="separate")  # the combined validation
    (group / "group.json").write_text(json.dumps({"combine": "product", "members": ["mask", "gender", "age"]}))
    for task, epochs in (("mask", 3), ("gender", 2), ("age", 3)):
        _fake_run(group / task, [0.5] * epochs, trainer="attribute", task=task)
    frame = report.main([str(group), str(run), str(tmp_path / "nothing")])
    assert "skipped" in capsys.readouterr().err
    assert frame["run"].tolist() == ["group", run.name] and frame["trainer"].tolist() == ["separate", "single"]
    assert frame["best/epochs"].tolist() == ["-/3", "1/1"]
    summary = json.loads((run / "summary.json").read_text())
    assert frame["f1"].iloc[1] == f"{summary['best']['val_f1']:.4f}"
    monkeypatch.chdir(tmp_path)  # the default: every run in runs_dir ("runs")
    assert report.main([])["run"].tolist() == ["group", run.name]


def test_no_run_to_report_is_an_error_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "logger.report", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 2  # the skip note, the error
    assert "none of the given paths is a run folder" in result.stderr
