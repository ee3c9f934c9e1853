"""The command line users type: --set with several knobs, bare knob=value words, values as typed,
the shortcut flags, --print-config [--diff], --dry-run, a bare --person-vote, light --help, and
inference's outputs checked first and written together."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import inference
import train
from base import cli_knobs
from base import config as config_lib

ROOT = Path(__file__).resolve().parent.parent


def _cfg(*argv: str) -> config_lib.Config:
    args = train.parse_args(list(argv))
    return config_lib.load(args.config, args.overrides)


def test_several_knobs_after_one_set_and_bare_words():
    cfg = _cfg("--set", "epochs=2", "lr=0.01", "batch_size=8", "seed=3")
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.seed) == (2, 0.01, 8, 3)
    cfg = _cfg("epochs=4", "--set", "lr=0.02", "--config", "configs/fast.py", "seed=5")
    assert (cfg.epochs, cfg.lr, cfg.seed, cfg.name) == (4, 0.02, 5, "fast")


@pytest.mark.parametrize("word, knob, value", [
    ("tta=flip", "tta", ["flip"]), ("tta=flip,scale", "tta", ["flip", "scale"]), ("tta=none", "tta", []),
    ("pretrained=true", "pretrained", True), ("pretrained=1", "pretrained", True),
    ("pretrained=false", "pretrained", False), ("pretrained=0", "pretrained", False),
    ("epochs=3.0", "epochs", 3), ("image_size=384,288", "image_size", (384, 288)),
    ("image_size=(96, 64)", "image_size", (96, 64)), ("backbone=resnet34", "backbone", "resnet34"),
    ("kfold_folds=0,1", "kfold_folds", [0, 1]), ("lr=3e-4", "lr", 3e-4),
    ("image_size=384", "image_size", (384, 384)), ("image_size=384x288", "image_size", (384, 288)),
    ("name=2024", "name", "2024"), ("data_dir=1e3", "data_dir", "1e3"), ("device=0", "device", "0"),
    ("name='quoted'", "name", "quoted"), ("class_weights=inverse", "class_weights", "inverse"),
])
def test_values_as_users_type_them(word, knob, value):
    assert _cfg(word)[knob] == value


@pytest.mark.parametrize("word, message", [("epochs=3.5", "'epochs' must be an integer"),
                                           ("pretrained=maybe", "'pretrained' must be True or False")])
def test_values_that_mean_nothing_are_refused(word, message):
    with pytest.raises(config_lib.UserError, match=message):
        _cfg(word)


def test_the_shortcut_flags_are_set_knobs():
    cfg = _cfg("--epochs", "7", "--lr", "0.5", "--batch-size", "4", "--seed", "9", "--device", "cpu",
               "--data-dir", "somewhere", "--backbone", "resnet18", "--image-size", "96,64")
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.seed, cfg.device, cfg.data_dir, cfg.backbone,
            cfg.image_size) == (7, 0.5, 4, 9, "cpu", "somewhere", "resnet18", (96, 64))
    assert _cfg("--epochs", "7", "epochs=2").epochs == 2  # the later word wins, as with flags
    assert _cfg("--epochs", "3.0", "--image-size", "96").image_size == (96, 96)


def test_train_and_inference_spell_shared_options_the_same():
    train_flags = set(train.build_parser()._option_string_actions)
    inference_flags = set(inference.build_parser()._option_string_actions)
    assert {"--data-dir", "--batch-size", "--device"} <= train_flags & inference_flags
    assert set(cli_knobs.ALIASES) <= train_flags


def test_a_bare_person_vote_flag_means_vote():
    assert inference.parse_args(["--person-vote"]).person_vote == "vote"
    assert inference.parse_args(["--person-vote", "assign"]).person_vote == "assign"
    assert inference.parse_args(["--person-vote", "off"]).person_vote == "off"
    assert inference.parse_args([]).person_vote is None


def _run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_print_config_reads_back_as_the_same_configuration(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    train.main(["--config", "configs/fast.py", "epochs=2", "tta=flip", "--print-config"])
    (tmp_path / "resolved.py").write_text(capsys.readouterr().out)
    again = config_lib.load(tmp_path / "resolved.py")
    assert again.to_dict() == {**_cfg("--config", "configs/fast.py", "epochs=2", "tta=flip").to_dict(),
                               "name": "fast"}
    train.main(["epochs=2", "tta=flip", "--print-config", "--diff"])
    assert capsys.readouterr().out.splitlines()[1:] == ["epochs = 2", "tta = ['flip']"]


@pytest.mark.parametrize("script", ["train.py", "inference.py", "tune.py"])
def test_help_answers_without_importing_torch(script):
    probe = (f"import runpy, sys; sys.argv = [{script!r}, '--help']\n"
             f"try:\n    runpy.run_path({script!r}, run_name='__main__')\n"
             "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    done = _run("-c", probe)
    assert done.returncode == 0 and done.stdout.strip().endswith("False"), done.stdout[-300:] + done.stderr


def test_dry_run_tries_one_batch_and_leaves_nothing(tiny_overrides, tmp_path, capsys):
    runs = tmp_path / "runs"
    result = train.main([*tiny_overrides, "epochs=3", "--dry-run"])
    assert result["dry_run"] and result["train_loss"] > 0
    assert Path(result["run_dir"]).parent == runs and not runs.exists()
    assert "a real run would make" in capsys.readouterr().err
    kfold = train.main([*tiny_overrides, "kfold=true", "--dry-run"])
    assert Path(kfold["run_dir"]).name.startswith("kfold-") and not runs.exists()


def test_dry_run_fails_on_the_data_like_a_run(tiny_overrides, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main([*tiny_overrides, f"data_dir={str(tmp_path / 'nowhere')!r}", "--dry-run"])
    assert exit_.value.code == 2 and "nowhere" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_run(tiny_data, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("cli_runs")
    train.main([f"data_dir={str(tiny_data)!r}", f"runs_dir={str(runs)!r}", "backbone=test_resnet",
                "image_size=32,32", "batch_size=16", "epochs=1", "folds=3", "num_workers=0", "plots=False"])
    return next(runs.iterdir())


def test_inference_checks_every_output_before_predicting(trained_run, tmp_path, capsys, monkeypatch):
    (tmp_path / "a_file").write_text("")
    predicted = []
    monkeypatch.setattr("predict.predictor.combine_probabilities", lambda *a, **k: predicted.append(1))
    for argv, words in [(["--probs", str(tmp_path / "a_file" / "p.csv")], ["--probs", "cannot make its folder"]),
                        (["--out", str(tmp_path / "a_file" / "s.csv")], ["--out", "cannot make its folder"]),
                        (["--out", str(tmp_path)], ["--out", "is a folder"]),
                        (["--out", str(tmp_path / "s.csv"), "--probs", str(tmp_path / "s.csv")],
                         ["--probs and --out name the same file"])]:
        with pytest.raises(SystemExit) as exit_:
            inference.main(["--run", str(trained_run), *argv])
        line = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and all(w in line for w in words) and "\n" not in line, line
    assert not predicted


def test_inference_writes_all_outputs_or_none(trained_run, tmp_path, monkeypatch):
    out = tmp_path / "new" / "sub.csv"
    calls = []
    real = pd.DataFrame.to_csv

    def second_write_fails(frame, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", second_write_fails)
    with pytest.raises(SystemExit) as exit_:  # a full disk is one line (base/atomic.py)
        inference.main(["--run", str(trained_run), "--out", str(out)])
    assert exit_.value.code == 2
    assert len(calls) == 2 and sorted(p.name for p in out.parent.iterdir()) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    (out.parent / "sub_groups.csv").write_text("left by an earlier submission with a person vote\n")
    inference.main(["--run", str(trained_run), "--out", str(out)])
    assert sorted(p.name for p in out.parent.iterdir()) == ["sub.csv", "sub_probs.csv"]
