"""`python -m logger.report` lists runs best first, with the knobs that differ between them, in
blocks of runs whose scores compare; a damaged run is left out with one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import train
from base import config as config_lib
from logger import report

ROOT = Path(__file__).resolve().parent.parent


def _fake_run(folder: Path, f1s: list[float], **knobs) -> Path:
    """A run folder as train.py leaves it, as far as the report reads it."""
    folder.mkdir(parents=True)
    cfg = {**config_lib.load().to_dict(), **knobs}
    (folder / "config.json").write_text(json.dumps(cfg))
    rows = [{"epoch": e + 1, "lr": 0.002, "val_f1": f, "val_acc": f + 0.01, "val_f1_mask": f, "val_f1_gender": 1.0,
             "val_f1_age": f / 2, "val_loss": 1 - f, "seconds": 10.0} for e, f in enumerate(f1s)]
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    (folder / "summary.json").write_text(json.dumps({"run": folder.name, "wall_seconds": 10.0 * len(f1s)}))
    return folder


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


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
    heading, _, *rows = _lines(capsys.readouterr().out)
    assert heading.startswith("3 run(s) validated on fold 0 of 5 (seed 42)") and "best first by val_f1 (max)" in heading
    assert [row.split()[0] for row in rows] == ["b", "a", "c"]


def test_a_min_monitor_sorts_ascending_and_shows_its_metric(tmp_path):
    _fake_run(tmp_path / "low", [0.9], monitor="val_loss", monitor_mode="min")
    _fake_run(tmp_path / "high", [0.6], monitor="val_loss", monitor_mode="min")
    frame = report.main([str(tmp_path / "high"), str(tmp_path / "low")])
    assert frame["run"].tolist() == ["low", "high"] and frame["val_loss"].tolist() == ["0.1000", "0.4000"]


def test_a_real_run_and_a_group_are_one_row_each(tiny_overrides, tmp_path, capsys, monkeypatch):
    train.main([a for o in tiny_overrides for a in ("--set", o)])
    (run,) = (tmp_path / "runs").iterdir()
    same_split = json.loads((run / "config.json").read_text())
    group = _fake_run(tmp_path / "runs" / "group", [0.99], **{**same_split, "trainer": "separate"})
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


def _damage(folder: Path, how: str) -> str:
    """Damage one file of a run folder; the file's name, as the note names it."""
    if how == "cut-off summary.json":
        (folder / "summary.json").write_text('{"run": "x", "wall_sec')
        return "summary.json is cut off or not JSON"
    if how == "empty metrics.csv":
        (folder / "metrics.csv").write_text("")
        return "metrics.csv is empty"
    if how == "unreadable metrics.csv":
        (folder / "metrics.csv").unlink()
        (folder / "metrics.csv").mkdir()  # reading it fails whoever runs the test, root included
        return "metrics.csv cannot be read"
    if how == "metrics.csv of words":
        (folder / "metrics.csv").write_text("epoch,val_f1\n1,oops\n")
        return "metrics.csv column 'val_f1' holds something other than numbers"
    if how == "cut-off config.json":
        (folder / "config.json").write_text('{"lr": 0.1, "mon')
        return "config.json is cut off or not JSON"
    if how == "config.json of a list":
        (folder / "config.json").write_text("[1, 2]")
        return "config.json holds a list"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["cut-off summary.json", "empty metrics.csv", "unreadable metrics.csv",
                                 "metrics.csv of words", "cut-off config.json", "config.json of a list"])
def test_a_damaged_run_is_left_out_with_one_line_and_the_rest_reported(tmp_path, how, capsys):
    good = _fake_run(tmp_path / "good", [0.5])
    damaged = _fake_run(tmp_path / "damaged", [0.9])
    said = _damage(damaged, how)
    report.main([str(good), str(damaged)])  # in-process: test_no_run_to_report_is_an_error_line runs the module
    out, err = capsys.readouterr()
    (note,) = err.strip().splitlines()
    assert note.startswith(f"skipped {damaged}: {damaged}/") and said in note, note
    assert [line.split()[0] for line in _lines(out)[2:]] == ["good"]


def test_only_damaged_runs_is_an_error_after_the_notes(tmp_path, capsys):
    _damage(_fake_run(tmp_path / "a", [0.5]), "empty metrics.csv")
    with pytest.raises(SystemExit) as exit_:
        report.main([str(tmp_path / "a")])
    assert exit_.value.code == 2
    note, error = capsys.readouterr().err.strip().splitlines()
    assert "metrics.csv is empty" in note and error.startswith("error: no run could be read")


def test_runs_validated_on_other_persons_or_by_another_metric_are_other_blocks(tmp_path, capsys):
    runs = {"base": ([0.5], {}), "better": ([0.6], {"drop_ages": [[26, 29]], "age_thresholds": [30, 58]}),
            "seed": ([0.9], {"seed": 1}), "fold": ([0.8], {"fold": 1}), "folds": ([0.8], {"folds": 3}),
            "data": ([0.7], {"data_dir": str(tmp_path)}), "fixed": ([0.95], {"corrections": "fixes.csv"}),
            "kfold": ([0.85], {"kfold": True}), "mask": ([0.99], {"monitor": "val_f1_mask"})}
    for name, (f1s, knobs) in runs.items():
        _fake_run(tmp_path / name, f1s, **knobs)
    frame = report.main([str(tmp_path / name) for name in runs])
    headings = [line for line in _lines(capsys.readouterr().out) if " run(s) " in line]
    assert len(headings) == 8 and headings[0].startswith("2 run(s) validated on fold 0 of 5 (seed 42)")
    assert frame["run"].tolist()[:2] == ["better", "base"]  # training-only knobs: the same persons and labels
    assert set(frame["compared_on"].iloc[2:]) == {h.split(" ", 2)[2] for h in headings[1:]}
    shares = dict(zip(frame["run"], frame["compared_on"], strict=True))
    assert "fold 0 of 5 (seed 1)" in shares["seed"] and "fold 1 of 5" in shares["fold"]
    assert "fold 0 of 3" in shares["folds"] and f"data {tmp_path}" in shares["data"]
    assert "labels fixed by fixes.csv" in shares["fixed"] and "out of fold over folds all of 5" in shares["kfold"]
    assert shares["mask"].endswith("best first by val_f1_mask (max)")


def test_a_run_is_ranked_as_its_summary_recorded_and_a_group_by_its_validation_row(tmp_path):
    mask = _fake_run(tmp_path / "mask", [0.5, 0.9], trainer="attribute", task="mask")
    summary = json.loads((mask / "summary.json").read_text())
    (mask / "summary.json").write_text(json.dumps({**summary, "monitor": "val_f1_mask"}))  # what "auto" meant
    group = _fake_run(tmp_path / "kfold", [0.8], kfold=True, monitor="val_loss", monitor_mode="min")
    (group / "group.json").write_text(json.dumps({"kind": "kfold", "combine": "mean", "members": []}))
    frame = report.main([str(mask), str(group)])
    shares = dict(zip(frame["run"], frame["compared_on"], strict=True))
    assert shares["mask"].endswith("best first by val_f1_mask (max)")
    assert shares["kfold"].endswith("best first by val_f1 (max)")  # the group's row holds no loss


def test_runs_ranked_by_a_loss_compare_only_at_one_loss_scale(tmp_path):
    _fake_run(tmp_path / "ce", [0.5], monitor="val_loss", monitor_mode="min")
    _fake_run(tmp_path / "smooth", [0.9], monitor="val_loss", monitor_mode="min", label_smoothing=0.2)
    frame = report.main([str(tmp_path / "ce"), str(tmp_path / "smooth")])
    assert frame["compared_on"].nunique() == 2 and "label_smoothing 0.2" in frame["compared_on"].iloc[1]


def test_columns_picks_metrics_columns_and_knobs_in_order(tmp_path, capsys):
    _fake_run(tmp_path / "a", [0.5, 0.7], lr=0.01)
    _fake_run(tmp_path / "b", [0.9], lr=0.001)
    frame = report.main([str(tmp_path / "a"), str(tmp_path / "b"), "--columns", "run,val_acc,epoch,seed,lr,f1"])
    assert frame.columns.tolist() == ["run", "val_acc", "epoch", "seed", "lr", "f1"]
    assert frame.values.tolist() == [["b", "0.9100", "1", "42", "0.001", "0.9000"],
                                     ["a", "0.7100", "2", "42", "0.01", "0.7000"]]
    assert _lines(capsys.readouterr().out)[1].split() == frame.columns.tolist()


def test_an_unknown_column_is_one_line_listing_the_known(tmp_path, capsys):
    _fake_run(tmp_path / "a", [0.5])
    with pytest.raises(SystemExit) as exit_:
        report.main([str(tmp_path / "a"), "--columns", "run,val_f2"])
    assert exit_.value.code == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert "--columns: unknown 'val_f2'; known: run, trainer" in error and "val_acc" in error and "knob" in error


def test_csv_writes_the_table_and_its_path_is_checked_before_any_run_is_read(tmp_path, capsys):
    _fake_run(tmp_path / "a", [0.5], lr=0.01)
    _fake_run(tmp_path / "b", [0.9], lr=0.001, seed=1)
    frame = report.main([str(tmp_path / "a"), str(tmp_path / "b"), "--csv", str(tmp_path / "report.csv")])
    written = pd.read_csv(tmp_path / "report.csv", dtype=str)
    assert written.columns.tolist() == frame.columns.tolist() and written["run"].tolist() == ["a", "b"]
    assert written["compared_on"].str.contains("seed 1").tolist() == [False, True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "report.csv"]  # no temp file left
    capsys.readouterr()
    for bad, said in ((tmp_path / "missing" / "r.csv", "no folder"), (tmp_path / "a", "is a folder")):
        with pytest.raises(SystemExit):
            report.main([str(tmp_path / "no-run"), "--csv", str(bad)])
        (error,) = capsys.readouterr().err.strip().splitlines()  # no note about the run: checked first
        assert error.startswith(f"error: --csv {bad}") and said in error


def test_on_a_terminal_the_table_fits_and_says_what_it_left_out(tmp_path, capsys, monkeypatch):
    for name, f1, lr in (("a-run-with-a-long-name", 0.5, 0.01), ("b", 0.9, 0.001)):
        _fake_run(tmp_path / name, [f1], lr=lr, augment="strong" if f1 > 0.6 else "basic",
                  mix="vertical_cutmix" if f1 > 0.6 else "none")
    paths = [str(p) for p in sorted(tmp_path.iterdir())]
    full = report.main(paths)
    wide = max(map(len, capsys.readouterr().out.splitlines()))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "60")
    assert report.main(paths).equals(full)  # what it returns (and --csv writes) keeps every column
    *table, note = capsys.readouterr().out.splitlines()
    assert wide > 60 and max(map(len, table[1:])) <= 60
    assert note.startswith("left out to fit the terminal's 60 columns: wall, best/epochs, trainer, backbone, loss, "
                           "age, gender, mask (")  # the same in every row first, the per-head scores next
    assert table[1].split() == ["run", "augment", "lr", "mix", "f1"]  # what differs stays, and the ranked score
    monkeypatch.setenv("COLUMNS", "100")
    report.main(paths)
    *table, note = capsys.readouterr().out.splitlines()
    assert "vertical_cu…" in table[2] and "mask" in table[1]  # shortening a value beats leaving out a score
    assert note.startswith("left out to fit the terminal's 100 columns: wall, best/epochs (")


def test_a_study_folder_reports_its_trials(tmp_path):
    study = tmp_path / "tune-run-20261203-010000"
    study.mkdir()
    (study / "study.json").write_text("{}")
    (study / "trial-0000-error.txt").write_text("a trial that failed before its folder")
    for number, f1 in enumerate((0.4, 0.8, 0.6)):
        _fake_run(study / f"trial-{number:04d}", [f1], lr=0.001 * (number + 1))
    result = subprocess.run([sys.executable, "-m", "logger.report", str(study)], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0 and not result.stderr, result.stderr
    assert [line.split()[0] for line in _lines(result.stdout)[2:]] == ["trial-0001", "trial-0002", "trial-0000"]
