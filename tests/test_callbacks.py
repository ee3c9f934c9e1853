"""Callbacks chosen per run: a registered callback runs only where the `callbacks` knob names it,
the built-in watchers run everywhere, and a callback's stop() holds on --resume."""
import pandas as pd
import pytest

import logger  # noqa: F401  registers the built-in watchers
import train
from base.callbacks import ALWAYS, CALLBACKS, Callback, build_callbacks
from base.errors import UserError


class StopAtOne(Callback):
    def on_epoch_end(self, trainer, row, improved, val_probs):
        if row["epoch"] == 1:
            trainer.stop("enough after epoch 1")


@pytest.fixture
def registered(monkeypatch):
    """Register `factory` under `name` for one test (the registry is left as it was)."""
    def register(name, factory):
        monkeypatch.setitem(CALLBACKS._entries, name, factory)
    return register


def test_a_registered_callback_runs_only_where_named(registered, tiny_cfg):
    registered("test_stop_at_one", lambda cfg: StopAtOne())
    unnamed = [type(c) for c in build_callbacks(tiny_cfg).items]
    named = [type(c) for c in build_callbacks(tiny_cfg.replace(callbacks=["test_stop_at_one"])).items]
    assert StopAtOne not in unnamed and len(unnamed) == 1  # run_artifacts; tensorboard and wandb are off
    assert named == [*unnamed, StopAtOne]  # the built-in ones first, then the named ones
    assert list(ALWAYS) == ["run_artifacts", "tensorboard", "wandb"]


def test_a_callback_that_stops_ends_the_run_and_a_resume_does_not_train_on(registered, tiny_overrides, tmp_path):
    registered("test_stop_at_one", lambda cfg: StopAtOne())
    train.main(["--set", *tiny_overrides, "epochs=3", "callbacks=['test_stop_at_one']"])
    (run,) = (tmp_path / "runs").iterdir()
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1]
    before = (run / "last.pt").stat().st_mtime_ns
    train.main(["--resume", str(run)])  # the callback stops at epoch 1 only: only last.pt keeps the run stopped
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1]
    assert (run / "last.pt").stat().st_mtime_ns == before  # nothing trained, nothing rewritten
    assert "stopped after epoch 1: enough after epoch 1" in (run / "train.log").read_text().split("resumed from")[1]


def test_an_unnamed_callback_does_not_stop_a_run(registered, tiny_overrides, tmp_path):
    registered("test_stop_at_one", lambda cfg: StopAtOne())
    train.main(["--set", *tiny_overrides, "epochs=2"])
    (run,) = (tmp_path / "runs").iterdir()
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2]


@pytest.mark.parametrize("names, message", [
    ("['nope']", "config knob 'callbacks': unknown callback 'nope'; known: test_stop_at_one"),
    ("['tensorboard']", "config knob 'callbacks': 'tensorboard' is built in and asked by every run"),
    ("['test_stop_at_one','test_stop_at_one']", "config knob 'callbacks': 'test_stop_at_one' is named twice"),
])
def test_a_wrong_name_is_one_line_and_exit_2_before_the_data_is_read(names, message, registered, tiny_overrides,
                                                                      tmp_path, capsys):
    registered("test_stop_at_one", lambda cfg: StopAtOne())
    with pytest.raises(SystemExit) as stop:
        train.main(["--set", *tiny_overrides, "data_dir='nowhere'", f"callbacks={names}"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_with_nothing_to_name_the_error_says_how_to_register_one(tiny_cfg):
    with pytest.raises(UserError, match="none is registered"):
        build_callbacks(tiny_cfg.replace(callbacks=["mine"]))
