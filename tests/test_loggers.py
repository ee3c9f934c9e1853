"""TensorBoard and Weights & Biases logging: optional extras, skipped when not installed."""
import sys

import pytest

import train


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def test_tensorboard_logs_scalars_images_and_the_confusion_matrix(tiny_overrides, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train.main(_sets(tiny_overrides + ["tensorboard=True", "epochs=2"]))
    (run,) = (tmp_path / "runs").iterdir()
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    scalars = events.Tags()["scalars"]
    assert {"val/f1", "val/f1_mask", "train/loss", "val/loss", "lr"} <= set(scalars)
    assert [e.step for e in events.Scalars("val/f1")] == [1, 2]
    assert {"train/first_batch", "val/confusion"} <= set(events.Tags()["images"])


def test_wandb_offline_needs_no_network(tiny_overrides, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # belt and braces: the knob already says offline
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    train.main(_sets(tiny_overrides + ["wandb=True"]))
    (run,) = (tmp_path / "runs").iterdir()
    (offline,) = (run / "wandb").glob("offline-run-*")
    assert list(offline.glob("*.wandb")) and list(offline.glob("files/media/images/val/confusion*.png"))


@pytest.mark.parametrize("knob,module", [("tensorboard", "torch.utils.tensorboard"), ("wandb", "wandb")])
def test_a_missing_logger_package_is_one_line_before_any_folder(knob, module, tiny_overrides, tmp_path,
                                                                 monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(SystemExit) as exit_:
        train.main(_sets(tiny_overrides + [f"{knob}=True"]))
    assert exit_.value.code == 2
    assert f'pip install -e ".[{knob}]"' in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()



def test_an_installed_but_broken_logger_package_names_why(monkeypatch):
    import importlib

    from base.errors import UserError, optional_import

    def broken(name):  # what tensorboard 2.21 raises under protobuf 4
        raise ImportError("cannot import name 'runtime_version' from 'google.protobuf'")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(UserError, match=r"tensorboard is installed but does not import \(cannot import name "
                                        r"'runtime_version'.*pip install -e \"\.\[tensorboard\]\""):
        optional_import("torch.utils.tensorboard", "tensorboard", "tensorboard")
