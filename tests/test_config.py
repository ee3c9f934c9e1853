import subprocess
import sys
from pathlib import Path

import pytest

from base import config as config_lib
from base.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_come_from_config_py():
    cfg = config_lib.load()
    assert cfg.data_dir == "demo" and cfg.monitor == "auto" and cfg.age_thresholds == (30, 60)
    assert set(cfg) == set(config_lib.schema())


def test_experiment_file_changes_only_what_it_names(tmp_path):
    exp = tmp_path / "bigger.py"
    exp.write_text("from math import pi\nepochs = 3\nimage_size = [96, 72]\nlr = 1  # an int is a fine float\n")
    cfg = config_lib.load(exp)
    assert (cfg.epochs, cfg.image_size, cfg.lr) == (3, (96, 72), 1.0)
    assert cfg.name == "bigger"  # the run is named after the experiment file
    assert cfg.batch_size == config_lib.load().batch_size


def test_base_chain_and_overrides_come_last(tmp_path):
    (tmp_path / "a.py").write_text("epochs = 3\nbackbone = 'resnet18'\n")
    (tmp_path / "b.py").write_text("_base_ = 'a.py'\nepochs = 5\n")
    cfg = config_lib.load(tmp_path / "b.py", ["lr=0.01", "backbone=resnet34", "image_size=128,96"])
    assert (cfg.epochs, cfg.backbone, cfg.lr, cfg.image_size) == (5, "resnet34", 0.01, (128, 96))


@pytest.mark.parametrize("overrides, message", [
    (["lrr=0.1"], "unknown config knob 'lrr'; did you mean 'lr'?"),
    (["epochs=two"], "config knob 'epochs' must be an integer, got 'two'"),
    (["epochs=0"], "config knob 'epochs' must be at least 1"),
    (["pretrained=maybe"], "config knob 'pretrained' must be True or False"),
    (["optimizer=rmsprop"], "config knob 'optimizer' must be one of 'adamw', 'adam', 'sgd'"),
    (["image_size=64,48,32"], "config knob 'image_size' must be 2 values"),
    (["fold=5"], "'fold' must be below folds=5"),
    (["age_thresholds=60,30"], "'age_thresholds' must be two increasing ages"),
    (["lr"], "--set 'lr': write knob=value"),
])
def test_bad_knobs_name_the_knob(overrides, message):
    with pytest.raises(UserError, match=None) as err:
        config_lib.load(overrides=overrides)
    assert message in str(err.value)


@pytest.mark.parametrize("name, text, message", [
    # helpers (_n) and items (mean[0]) may be assigned again; a knob may not
    ("twice.py", "_n = 1\nepochs = 2\n_n = 2\nmean = [0.5] * 3\nmean[0] = 0.4\nepochs = 3\n",
     "twice.py: knob 'epochs' is set twice (lines 2 and 6)"),
    ("unpacked.py", "epochs, lr = 2, 0.1\nlr: float = 0.2\n", "unpacked.py: knob 'lr' is set twice (lines 1 and 2)"),
    ("exp.yaml", "epochs: 2\n", "exp.yaml: not a .py file"),
    ("typo.py", "bach_size = 8\n", "typo.py: unknown config knob 'bach_size'"),
])
def test_experiment_file_mistakes_name_the_file(name, text, message, tmp_path):
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError) as err:
        config_lib.load(tmp_path / name, ["epochs=1"])  # a --set beside it does not take the blame
    assert message in str(err.value)


def test_config_is_frozen_and_diffs():
    cfg = config_lib.load()
    with pytest.raises(AttributeError):
        cfg.lr = 1.0
    other = cfg.replace(lr=0.5, epochs=2)
    assert cfg.diff(other) == ["epochs", "lr"] and other.lr == 0.5


def test_saved_config_round_trips_through_json():
    cfg = config_lib.load(overrides=["image_size=96,72"])
    again = config_lib.from_dict(cfg.to_dict(), source="x")
    assert again == cfg and again.image_size == (96, 72)


def test_cli_reports_a_typo_in_one_line_with_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "train.py", "--set", "bach_size=8", "--set", f"runs_dir={tmp_path}/r"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --set: unknown config knob 'bach_size'; did you mean 'batch_size'?"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*.py")))
def test_every_shipped_preset_trains(preset, tiny_overrides, tmp_path):
    """The presets users copy load, validate and train (on the tiny data and model, hub weights off)."""
    import train

    knobs = [*tiny_overrides, "pretrained=False", "epochs=1"]
    best = train.main(["--config", str(ROOT / "configs" / preset), *[a for k in knobs for a in ("--set", k)]])
    assert best["epoch"] == 1 and 0 <= best["val_f1"] <= 1
    name = config_lib.load(ROOT / "configs" / preset).name
    assert [p.name.startswith(name + "-") for p in (tmp_path / "runs").iterdir()] == [True]


def _named_paths(message: str) -> list[Path]:
    """The file paths an error line names (words with a folder, ending in .py or .json)."""
    import re

    return [Path(p) for p in re.findall(r"[\w.~-]*/[\w./~-]+\.(?:py|json)\b", message)]


def test_a_missing_experiment_file_points_to_files_that_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)  # as README runs the commands
    with pytest.raises(UserError) as missing:
        config_lib.load(tmp_path / "nowhere.py")
    suggested = [p for p in _named_paths(str(missing.value)) if "nowhere" not in str(p)]
    assert suggested and all(p.is_file() for p in suggested), str(missing.value)


def test_a_missing_base_names_the_file_that_names_it_and_where_it_was_looked_for(tmp_path):
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.py"
    child.write_text('_base_ = "parent.py"\nepochs = 3\n')
    (tmp_path / "parent.py").write_text("lr = 0.1\n")  # beside the caller's folder, not beside child.py
    with pytest.raises(UserError, match=rf"{child}: _base_ names {tmp_path / 'sub' / 'parent.py'}, which does not "
                                        r"exist \(a _base_ is resolved beside the file that names it\)"):
        config_lib.load(child)


def test_a_runs_config_json_trains_that_configuration_again(tmp_path):
    (tmp_path / "exp.py").write_text("epochs = 3\nlr = 0.01\ntta = ['flip']\nimage_size = (40, 32)\n")
    cfg = config_lib.load(tmp_path / "exp.py")
    saved = tmp_path / "exp-20260101-000000" / "config.json"
    saved.parent.mkdir()
    saved.write_text(__import__("json").dumps(cfg.to_dict()))  # as train.py writes it
    again = config_lib.load(saved, ["epochs=5"])
    assert again.to_dict() == {**cfg.to_dict(), "epochs": 5} and again.name == "exp"
    saved.write_text("{not json")
    with pytest.raises(UserError, match="not a readable config.json"):
        config_lib.load(saved)


def test_a_saved_config_with_knobs_of_another_version_says_so():
    saved = {**config_lib.load().to_dict(), "future_knob": 1}
    with pytest.raises(UserError, match=r"runs/x/config.json: knob\(s\) 'future_knob' unknown to this mask18: the run "
                                        r"was saved by another version"):
        config_lib.from_dict(saved, source="runs/x/config.json")
