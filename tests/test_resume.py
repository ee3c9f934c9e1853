"""A killed run resumes and ends bit for bit where an uninterrupted run ends; checkpoints and run
folders are never half there."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from processes import kill_9_when

import train
from base import checkpoint_files, run_dir
from base.atomic import atomic_path, write_text
from base.errors import UserError

ROOT = Path(__file__).resolve().parent.parent

# Run by the child process instead of `python train.py`: train.py itself, except that right after
# it writes the checkpoint of epoch 2 step 3 it tells the test so and waits to be killed. The kill
# then lands at a known point however fast or slow the machine is; what a resume can use (the
# files on disk) is the same as after a kill anywhere before the next checkpoint.
CHILD = """
import runpy, sys, time
from pathlib import Path
from base import checkpoint_files
save, ready = checkpoint_files.save, Path(sys.argv.pop(1))
def save_then_wait(path, state):
    save(path, state)
    if Path(path).name == "last.pt" and state["epoch"] == 1 and state.get("step") == 3:
        ready.with_suffix(".tmp").write_text(str(Path(path).parent))
        ready.with_suffix(".tmp").rename(ready)  # whole: the test reads it as soon as it exists
        while True:
            time.sleep(1)
checkpoint_files.save = save_then_wait
sys.argv[0] = "train.py"
runpy.run_path("train.py", run_name="__main__")
"""


def _sets(overrides: list[str], *more: str) -> list[str]:
    return [a for o in [*overrides, *more] for a in ("--set", o)]


def _same_run(a: Path, b: Path) -> None:
    """Equal final weights (bit for bit) and equal metrics.csv but for the wall-clock column."""
    wa = torch.load(a / "last.pt", weights_only=True)["model"]
    wb = torch.load(b / "last.pt", weights_only=True)["model"]
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    assert mb["epoch"].tolist() == list(range(1, len(ma) + 1))
    pd.testing.assert_frame_equal(ma.drop(columns="seconds"), mb.drop(columns="seconds"), check_exact=True)


def test_sigkill_inside_an_epoch_then_resume_matches_an_uninterrupted_run(tiny_overrides, tmp_path):
    # dropout makes the result depend on the restored random state, not only on the weights;
    # bit for bit holds on CPU (GPU convolutions may pick non-deterministic kernels)
    sets = _sets(tiny_overrides, "epochs=3", "drop_rate=0.3", "device='cpu'")
    ready = tmp_path / "ready"
    killed = subprocess.Popen([sys.executable, "-c", CHILD, str(ready), *sets, "--set", "name='killed'",
                               "--set", "checkpoint_every_steps=1"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        train.main([*sets, "--set", "name='straight'"])  # meanwhile, the uninterrupted run
    except BaseException:
        killed.kill()
        raise
    kill_9_when(killed, ready.exists, "checkpoint inside epoch 2")
    run = Path(ready.read_text())
    state = torch.load(run / "last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 3)  # epoch 1 done, 3 steps into epoch 2
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1]

    resumed = subprocess.run([sys.executable, "train.py", "--resume", str(run)], cwd=ROOT,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "inside epoch 2 at step 3" in resumed.stderr
    _same_run(next((tmp_path / "runs").glob("straight-*")), run)


def test_a_crash_between_metrics_csv_and_last_pt_redoes_the_epoch_once(tiny_overrides, tmp_path, monkeypatch):
    sets = _sets(tiny_overrides, "epochs=2", "keep_last=1", "device='cpu'")
    train.main([*sets, "--set", "name='straight'"])
    save = checkpoint_files.save

    def crash_before_last_pt_of_epoch_2(path, state):
        if Path(path).name == "last.pt" and state["epoch"] == 2:
            raise KeyboardInterrupt  # metrics.csv and best.pt of epoch 2 are written, last.pt is not
        save(path, state)

    monkeypatch.setattr(checkpoint_files, "save", crash_before_last_pt_of_epoch_2)
    with pytest.raises(SystemExit):
        train.main([*sets, "--set", "name='stopped'"])
    monkeypatch.setattr(checkpoint_files, "save", save)
    stopped = next((tmp_path / "runs").glob("stopped-*"))
    assert len(pd.read_csv(stopped / "metrics.csv")) == 2 and "continue with" in (stopped / "train.log").read_text()
    train.main(["--resume", str(stopped)])
    _same_run(next((tmp_path / "runs").glob("straight-*")), stopped)  # no duplicate row for epoch 2
    assert sorted(p.name for p in stopped.glob("epoch-*.pt")) == ["epoch-002.pt"]  # keep_last=1
    assert not list(stopped.glob(".*tmp"))


def test_a_new_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tiny_overrides, tmp_path, monkeypatch):
    def broken(self, loader, progress):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("base.base_trainer.BaseTrainer.train_epoch", broken)
    with pytest.raises(RuntimeError):
        train.main(_sets(tiny_overrides))
    assert list((tmp_path / "runs").iterdir()) == []


def test_keep_last_keeps_the_newest_epoch_checkpoints(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"x")
    for epoch in (8, 9, 10):
        checkpoint_files.keep_last(tmp_path, epoch, 2)
    assert sorted(p.name for p in tmp_path.glob("epoch-*.pt")) == ["epoch-009.pt", "epoch-010.pt"]


def test_resume_auto_takes_the_newest_run_of_this_config_name(tmp_path):
    for folder, name in (("a-1", "a"), ("b-1", "b"), ("a-2", "a"), ("run-1", "")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(json.dumps({"name": name}))
        time.sleep(0.01)
    assert run_dir.newest(tmp_path, name="a").name == "a-2"
    assert run_dir.newest(tmp_path, name="").name == "run-1"
    assert run_dir.newest(tmp_path).name == "run-1"
    with pytest.raises(UserError, match="no runs of config name 'c'"):
        run_dir.newest(tmp_path, name="c")


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda *_: "20260101-120000")
    folders, start = [], threading.Barrier(8)

    def make():
        start.wait()
        folders.append(run_dir.create(tmp_path, "run"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 8 and all(f.is_dir() for f in folders)


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"model": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="refused, it holds more than weights"):
        checkpoint_files.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_write_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "metrics.csv"
    write_text(target, "old\n")
    with pytest.raises(OSError), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise OSError("disk full")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resuming_a_complete_run_trains_nothing_and_changes_no_file(tiny_overrides, tmp_path, capsys):
    first = train.main(_sets(tiny_overrides, "epochs=2"))
    (run,) = (tmp_path / "runs").iterdir()
    before, stamps = _files(run), {p: p.stat().st_mtime_ns for p in run.iterdir()}
    capsys.readouterr()
    again = train.main(["--resume", str(run)])
    assert f"{run} is complete: all 2 epochs are trained; raise epochs to train more (nothing trained, no file " \
        "changed)" in capsys.readouterr().err
    assert again == first and _files(run) == before and {p: p.stat().st_mtime_ns for p in run.iterdir()} == stamps
    train.main(["--resume", str(run), "--set", "tta=['flip']"])
    assert "no file changed, so tta as given now is not saved)" in capsys.readouterr().err
    assert _files(run) == before
    with pytest.raises(SystemExit) as exit_:
        train.main(["--resume", str(run), "--set", "epochs=1"])
    assert exit_.value.code == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error == (f"error: --resume {run}: it has trained 2 epochs, more than epochs=1; resume with epochs=2 or "
                     "more, or start a new run")
    assert _files(run) == before  # config.json still says epochs=2, so the report sees one run, not two


def test_a_run_killed_after_its_last_epoch_resumes_to_finish_its_end(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    write_text(run / "summary.json", json.dumps({**summary, "finished": False}))  # killed before fit's end
    metrics = (run / "metrics.csv").read_bytes()
    train.main(["--resume", str(run)])
    assert json.loads((run / "summary.json").read_text())["finished"] is True
    assert (run / "metrics.csv").read_bytes() == metrics  # no epoch trained again


@pytest.mark.parametrize(("knobs", "state", "said"), [
    ({"epochs": 5, "patience": 2}, {"stale": 2}, "stopped early (no better val_f1 for 2 epochs); raise patience"),
    ({"epochs": 5, "time_limit_minutes": 1.5}, {"scheduler": {"planned_epochs": 5, "epochs": 2},
                                                  "config": {"time_limit_minutes": 1.5}},
     "the 2 epochs that fit time_limit_minutes=1.5 are trained; raise time_limit_minutes"),
    ({"epochs": 5, "patience": 3}, {"stale": 2}, None),
    ({"epochs": 5, "time_limit_minutes": 3}, {"scheduler": {"planned_epochs": 5, "epochs": 2},
                                                "config": {"time_limit_minutes": 1.5}}, None),  # a new plan
])
def test_a_run_is_complete_when_its_knobs_train_no_further_epoch(tiny_cfg, tmp_path, knobs, state, said):
    from trainer import get_trainer

    trainer = get_trainer("single")(tiny_cfg.replace(**knobs))
    why = trainer.nothing_left(tmp_path, {"epoch": 2, "stale": 0, **state})
    assert (why is None) == (said is None) and (said is None or said in why)
