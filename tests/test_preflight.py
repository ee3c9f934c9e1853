"""One check decides a configuration for --print-config, --dry-run, the run, tune.py's trials and
inference.py: what the run refuses, each of them refuses, with the same line, before any data is
read or any folder made (group/preflight.py)."""
from __future__ import annotations

import re
import sys

import pytest

import train
from base import config as config_lib
from base.errors import UserError
from tuning import space as space_lib

CASES = {
    "trainer": (["trainer='multi'"], "unknown trainer 'multi'"),
    "loss": (["loss='focall'"], "unknown loss 'focall'"),
    "loss in a sum": (["loss={'ce': 0.5, 'f2': 0.5}"], "unknown loss 'f2'"),
    "head loss": (["trainer='multihead'", "head_loss={'age': 'focall'}"], "unknown loss 'focall'"),
    "tta": (["tta=['flipp']"], "unknown TTA view 'flipp'"),
    "augment": (["augment='strongg'"], "unknown augment preset 'strongg'"),
    "augment_ops": (["augment='custom'", "augment_ops=[{'name': 'GausNoise'}]"],
                    "'GausNoise' is not an albumentations"),
    "mix": (["mix='cutmixx'"], "unknown mix method 'cutmixx'"),
    "backbone": (["backbone='resnet999'"], "unknown timm model 'resnet999'"),
    "torchvision": (["backbone='tv:resnet999'"], "unknown torchvision model 'resnet999'"),
    "weights_file": (["weights_file='/nowhere/w.pth'"], "'weights_file': /nowhere/w.pth not found"),
    "head of another trainer": (["head_loss={'age': 'focal'}"], "'head_loss' names 'age', not a head of the 'single'"),
    "class weights of another head": (["class_weights={'age': [1, 1, 4]}"], "'class_weights' names 'age'"),
    "class weights count": (["trainer='multihead'", "class_weights={'age': [1, 4]}"], "'age' needs 3 weights, got 2"),
    "sigmoid loss": (["trainer='multihead'", "head_loss={'gender': 'bce'}"], "loss 'bce' works on sigmoid heads only"),
    "years on one head": (["age_target='years'"], "'age_target' = 'years' needs an age head"),
    "separate's members": (["trainer='separate'", "head_loss={'class': 'focal'}"], "'head_loss' names 'class'"),
    "k-fold's trainer": (["kfold=True", "trainer='multi'"], "unknown trainer 'multi'"),
    "loss_args": (["loss_args={'focal': {'gama': 3}}"], "loss 'focal' takes no argument 'gama'"),
    "tta_args": (["tta_args={'scale': {'zom': 1.2}}"], "TTA view 'scale' takes no argument 'zom'"),
    "disk cache folder": (["cache='disk'", "cache_dir='/dev/null/cache'"],
                          "/dev/null/cache cannot hold the disk cache (Not a directory)"),
    "face detector": (["face_crop='mediapipe'"], "face detector 'mediapipe' is not installed"),
    "tensorboard": (["tensorboard=True"], "the tensorboard package is not installed"),
}


@pytest.fixture
def without_optional_packages(monkeypatch):
    """The packages of the extras absent, as after README's install."""
    for name in ("torch.utils.tensorboard", "tensorboard", "mediapipe"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr("data_loader.face_detectors.mediapipe_available", lambda: False)


def _line(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        train.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_print_config_and_dry_run_refuse_what_the_run_refuses_with_its_line(case, tiny_overrides, tmp_path, capsys,
                                                                            without_optional_packages):
    knobs, words = CASES[case]
    lines = {mode: _line(capsys, [*tiny_overrides, *knobs, *extra])
             for mode, extra in (("run", []), ("dry run", ["--dry-run"]), ("print", ["--print-config"]))}
    assert words in lines["run"]
    assert lines["dry run"] == lines["print"] == lines["run"]
    assert not (tmp_path / "runs").exists()


def test_a_trial_is_refused_with_the_runs_line(tiny_cfg):
    for knobs, words in (CASES["loss"], CASES["head of another trainer"]):
        values = dict(k.split("=", 1) for k in knobs)
        trial = {k: config_lib.parse_text(v) for k, v in values.items()}
        with pytest.raises(UserError, match=re.escape(words)):
            space_lib.trial_config(lambda t, trial=trial: trial, space_lib.DryTrial(0), tiny_cfg, where="trial 3")


def test_the_dry_run_counts_the_images_the_run_trains_on(tiny_overrides, capsys):
    train.main([*tiny_overrides, "--dry-run"])
    plain = re.search(r"(\d+) training and", capsys.readouterr().err)
    train.main([*tiny_overrides, "drop_ages=[(0, 40)]", "--dry-run"])
    counts = re.search(r"(\d+) training \((\d+) trained on: drop_ages", capsys.readouterr().err)
    read, trained = map(int, counts.groups())
    assert plain and read == int(plain.group(1)) and 0 < trained < read
