"""tune.py: a pruned, resumable, parallel Optuna search whose trials are ordinary runs.

Needs the extra (pip install -e ".[tune]"); without it only the install message is tested."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from processes import kill_9_when

import tune
from base import config as config_lib

ROOT = Path(__file__).resolve().parent.parent
# lr spans three decades, so some trials learn and some do not: the pruner has something to cut.
SPACE = '''
def space(trial):
    return {"lr": trial.suggest_float("lr", 1e-5, 3e-2, log=True),
            "age_thresholds": (30, trial.suggest_int("old_from", 56, 60)),
            "loss": trial.suggest_categorical("loss", ["ce", "label_smoothing"])}
'''


def _space(tmp_path: Path, text: str = SPACE, name: str = "space.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _args(tiny_overrides: list[str], *more: str) -> list[str]:
    return [a for s in [*tiny_overrides, *more] for a in ("--set", s)]


def _study(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "runs").glob("tune-*")
    return folder


def _trials(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "trials.csv")


def test_without_optuna_tune_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(SystemExit) as exit_:
        tune.main(["--space", str(_space(tmp_path)), "--trials", "2"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install -e ".[tune]"' in err


@pytest.mark.parametrize(("text", "expected"), [
    ("def space(trial):\n    return {'lr_max': 0.1}\n", "unknown config knob 'lr_max'"),
    ("def space(trial):\n    return {'epochs': trial.suggest_categorical('e', ['many'])}\n", "'epochs'"),
    # only the third choice is wrong: the dry trials must take every choice
    ("def space(trial):\n    return {'augment': trial.suggest_categorical('a', ['basic', 'strong', 'heavy'])}\n",
     "'heavy'"),
    ("def space(trial):\n    return {'seed': trial.suggest_int('s', 1, 9)}\n", "cannot be searched"),
    ("def space(trial):\n    return [('lr', 0.1)]\n", "must return a dict"),
    # like with like: a trial that would be scored by another metric, on other persons, or on another loss scale
    ("def space(trial):\n    return {'trainer': trial.suggest_categorical('t', ['single', 'attribute'])}\n",
     "knob 'trainer' cannot be searched: it changes the metric (val_f1 (max) -> val_f1_mask (max))"),
    ("def space(trial):\n    return {'kfold': trial.suggest_categorical('k', [False, True])}\n",
     "knob 'kfold' cannot be searched: it changes the persons it is measured on"),
    ("def space(trial):\n    return {'skip_bad_images': trial.suggest_categorical('s', [False, True])}\n",
     "knob 'skip_bad_images' cannot be searched"),
    ("def objective(trial):\n    return {}\n", "defines no function space(trial)"),
    ("def space(trial):\n    return {'lr': trial.suggest_float('lr', 1e-3)}\n", "space(trial) failed"),
])
def test_a_bad_space_ends_in_one_line_before_any_trial(tiny_overrides, tmp_path, capsys, text, expected):
    pytest.importorskip("optuna")
    with pytest.raises(SystemExit) as exit_:
        tune.main(["--space", str(_space(tmp_path, text)), "--trials", "2", *_args(tiny_overrides)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and expected in err, err
    assert not list((tmp_path / "runs").glob("tune-*")), "no study folder before the space is known good"


def test_a_loss_monitored_study_refuses_a_space_that_changes_the_loss_scale(tiny_overrides, tmp_path, capsys):
    pytest.importorskip("optuna")
    text = "def space(trial):\n    return {'label_smoothing': trial.suggest_float('s', 0.0, 0.2)}\n"
    with pytest.raises(SystemExit):
        tune.main(["--space", str(_space(tmp_path, text)), "--trials", "2",
                   *_args(tiny_overrides, "monitor=val_loss", "monitor_mode=min", "loss=label_smoothing")])
    assert "knob 'label_smoothing' cannot be searched: it changes the scale of the loss" in capsys.readouterr().err
    fine = tune.main(["--space", str(_space(tmp_path, text, "fine.py")), "--trials", "1",
                      *_args(tiny_overrides, "loss=label_smoothing")])  # val_f1 is the same metric at any smoothing
    assert len(_trials(fine)) == 1


def test_the_base_config_is_trial_0_and_the_trial_budget_is_the_studys(tiny_overrides, tmp_path, capsys):
    pytest.importorskip("optuna")
    folder = tune.main(["--space", str(_space(tmp_path)), "--trials", "2", "--trial-minutes", "5",
                        *_args(tiny_overrides, "lr=0.0123", "age_thresholds=30,58")])
    trials = _trials(folder).sort_values("number")
    first = json.loads((folder / trials.iloc[0]["folder"] / "config.json").read_text())
    assert first["lr"] == 0.0123 and first["loss"] == "ce" and first["age_thresholds"] == [30, 58]
    # the space's own suggestions give the base back, so every sampler learns from it
    assert (trials.iloc[0]["param_lr"], trials.iloc[0]["param_old_from"], trials.iloc[0]["param_loss"]) == (
        0.0123, 58, "ce")
    assert json.loads((folder / trials.iloc[1]["folder"] / "config.json").read_text())["lr"] == pytest.approx(
        trials.iloc[1]["param_lr"])
    with pytest.raises(SystemExit) as exit_:
        tune.main(["--resume", str(folder), "--trial-minutes", "9", "--trials", "3"])
    assert exit_.value.code == 2 and "--trial-minutes is part of the study" in capsys.readouterr().err


def test_a_base_outside_the_space_is_still_trial_0_as_it_is(tiny_overrides, tmp_path):
    pytest.importorskip("optuna")
    folder = tune.main(["--space", str(_space(tmp_path)), "--trials", "2", *_args(tiny_overrides, "lr=0.5")])
    trials = _trials(folder).sort_values("number")
    assert pd.isna(trials.iloc[0]["param_lr"])  # 0.5 is outside the space's lr range: no suggestion gives it
    assert json.loads((folder / trials.iloc[0]["folder"] / "config.json").read_text())["lr"] == 0.5
    assert (folder / "importances.png").is_file()


def test_a_pruned_study_writes_trials_csv_pictures_and_a_best_py_train_accepts(tiny_overrides, tmp_path):
    pytest.importorskip("optuna")
    folder = tune.main(["--space", str(_space(tmp_path)), "--trials", "6", "--pruner", "asha",
                        *_args(tiny_overrides, "epochs=3")])
    trials = _trials(folder)
    assert len(trials) == 6 and set(trials["state"]) <= {"complete", "pruned"}
    pruned, complete = trials[trials["state"] == "pruned"], trials[trials["state"] == "complete"]
    assert len(pruned) >= 1 and len(complete) >= 1
    assert (pruned["epochs"] < 3).all() and (complete["epochs"] == 3).all()  # pruned = fewer epochs
    assert {"param_lr", "param_old_from", "param_loss", "value", "best_epoch", "minutes"} <= set(trials.columns)
    for row in trials.itertuples():  # every trial an ordinary run folder, pruned ones included
        run = folder / row.folder
        assert (run / "best.pt").is_file() and len(pd.read_csv(run / "metrics.csv")) == row.epochs
        lr = config_lib.load(None, tiny_overrides).lr if pd.isna(row.param_lr) else row.param_lr  # trial 0: the base
        assert json.loads((run / "config.json").read_text())["lr"] == pytest.approx(lr)
    for picture in ("history", "importances", "intermediate"):
        assert (folder / f"{picture}.png").stat().st_size > 1000
    best = trials.loc[complete["value"].idxmax()]
    cfg = config_lib.load(folder / "best.py")
    if pd.isna(best["param_lr"]):  # the base config won: best.py is the base
        base = config_lib.load(None, tiny_overrides)
        best = {"param_lr": base.lr, "param_old_from": base.age_thresholds[1], "param_loss": base.loss}
    assert cfg.lr == pytest.approx(best["param_lr"]) and cfg.age_thresholds == (30, best["param_old_from"])
    assert cfg.loss == best["param_loss"] and cfg.runs_dir == str(tmp_path / "runs")
    assert cfg.name == "run-tuned" and cfg.epochs == 3
    result = subprocess.run([sys.executable, "train.py", "--config", str(folder / "best.py"), "--set", "epochs=1"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    _dashboard_lists(folder)


def _dashboard_lists(folder: Path) -> None:
    """optuna-dashboard (README: optuna-dashboard <study>/journal.log) reads the study's storage."""
    dashboard = pytest.importorskip("optuna_dashboard")
    from wsgiref.util import setup_testing_defaults

    from tuning import engine

    environ = {"PATH_INFO": "/api/studies"}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(dashboard.wsgi(engine.storage("", folder))(environ, lambda s, h, e=None: status.append(s)))
    assert status == ["200 OK"] and folder.name.encode() in body


def test_kill_9_during_trial_3_then_resume_finishes_exactly_6(tiny_overrides, tmp_path):
    pytest.importorskip("optuna")
    argv = [sys.executable, "tune.py", "--space", str(_space(tmp_path)), "--trials", "6", "--pruner", "none",
            *_args(tiny_overrides, "epochs=3")]
    tuner = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_9_when(tuner, lambda: bool(list((tmp_path / "runs").glob("tune-*/trial-0002"))), "start of trial 3")
    folder = _study(tmp_path)
    resumed = subprocess.run([sys.executable, "tune.py", "--resume", str(folder)], cwd=ROOT, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    trials = _trials(folder)
    assert (trials["state"].isin(["complete", "pruned"])).sum() == 6
    killed = trials[trials["number"] == 2].iloc[0]
    assert killed["state"] == "fail" and "interrupted" in killed["reason"]
    retry = trials[(trials["number"] > 2) & (trials["param_lr"] == killed["param_lr"])]
    assert len(retry) == 1  # the interrupted trial's params, tried once more
    drawn = list(zip(trials["param_lr"], trials["param_old_from"], strict=True))  # trial 0: the base's own
    assert len(set(drawn)) == 6, "a resumed sampler must not draw the first run's trials again"
    assert trials["folder"].is_unique and trials["number"].is_unique
    assert sorted(p.name for p in folder.glob("trial-*")) == sorted(trials["folder"])


def test_two_workers_on_one_storage_finish_n_trials_without_clashing(tiny_overrides, tmp_path):
    pytest.importorskip("optuna")
    folder = tune.main(["--space", str(_space(tmp_path)), "--trials", "4", "--workers", "2", "--pruner", "none",
                        *_args(tiny_overrides, "epochs=2")])
    trials = _trials(folder)
    assert len(trials) == 4 and (trials["state"] == "complete").all()
    assert trials["folder"].is_unique and sorted(p.name for p in folder.glob("trial-*")) == sorted(trials["folder"])
    starts = [line.split()[2] for line in (folder / "tune.log").read_text().splitlines() if " starts " in line]
    assert len(starts) == 4 and len(set(starts)) == 2, "both processes ran trials"


def test_a_database_storage_runs_trials_with_heartbeats(tiny_overrides, tmp_path):
    pytest.importorskip("optuna")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    folder = tune.main(["--space", str(_space(tmp_path)), "--trials", "2", "--storage", url, "--study-name", "shared",
                        *_args(tiny_overrides)])
    assert (_trials(folder)["state"] == "complete").sum() == 2 and not (folder / "journal.log").exists()
    import optuna

    study = optuna.load_study(study_name="shared", storage=url)
    assert len(study.trials) == 2  # a second machine joins by the same --storage and --study-name


def test_ctrl_c_marks_the_trial_failed_and_resume_runs_its_params_first(tiny_overrides, tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    from tuning import trial as trial_lib

    real = trial_lib.run

    def interrupted(trial, space, *args):
        if trial.user_attrs.get(trial_lib.BASE):  # trial 0, the base config, runs as usual
            return real(trial, space, *args)
        space(trial)  # the params are drawn, then Ctrl-C comes while the trial trains
        raise KeyboardInterrupt

    monkeypatch.setattr(trial_lib, "run", interrupted)
    with pytest.raises(SystemExit) as exit_:
        tune.main(["--space", str(_space(tmp_path)), "--trials", "2", *_args(tiny_overrides)])
    assert exit_.value.code == 130
    folder = _study(tmp_path)
    monkeypatch.setattr(trial_lib, "run", real)
    tune.main(["--resume", str(folder)])
    trials = _trials(folder)
    assert trials["state"].tolist() == ["complete", "fail", "complete"]
    assert trials["param_lr"][1] == trials["param_lr"][2]  # the interrupted trial's params, run again


LR_ONLY = "def space(trial):\n    return {'lr': trial.suggest_float('lr', 1e-4, 1e-2, log=True)}\n"


def _weights_of_no_model(tmp_path: Path) -> Path:
    """A weights file the start-up checks pass (it exists) and every model refuses when built."""
    import torch

    weights = tmp_path / "other.pth"
    torch.save({"stem.weight": torch.zeros(1)}, weights)
    return weights


def test_a_run_of_failed_trials_stops_the_study_in_one_line(tiny_overrides, tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna")
    from tuning import results

    real, drawn = results.draw, []
    monkeypatch.setattr(results, "draw", lambda *args: (drawn.append(1), real(*args)))
    weights = _weights_of_no_model(tmp_path)
    argv = ["--space", str(_space(tmp_path, LR_ONLY)), "--trials", "50", "--max-failures", "3",
            *_args(tiny_overrides, f"weights_file={str(weights)!r}")]
    with pytest.raises(SystemExit) as exit_:
        tune.main(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: 3 trials in a row failed (--max-failures 3); the last, trial 2: config knob "
                            f"'weights_file': {weights} does not fit backbone 'test_resnet'")
    folder = _study(tmp_path)
    assert _trials(folder)["state"].tolist() == ["fail"] * 3
    assert len(drawn) == 1  # once, as the study stops: a failed trial changes no picture
    with pytest.raises(SystemExit) as exit_:  # the count starts anew with each tune.py, and may change
        tune.main(["--resume", str(folder), "--max-failures", "1"])
    assert exit_.value.code == 2 and "error: 1 trial in a row failed" in capsys.readouterr().err
    assert len(_trials(folder)) == 4


def test_failed_trials_count_toward_trials(tiny_overrides, tmp_path, capsys):
    pytest.importorskip("optuna")
    weights = _weights_of_no_model(tmp_path)  # the timeout only bounds the test if failures did not count
    argv = ["--space", str(_space(tmp_path, LR_ONLY)), "--trials", "2", "--max-failures", "0", "--timeout", "1",
            *_args(tiny_overrides, f"weights_file={str(weights)!r}")]
    with pytest.raises(SystemExit) as exit_:
        tune.main(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: every trial failed (2); the last, trial 1")
    assert _trials(_study(tmp_path))["state"].tolist() == ["fail", "fail"]
