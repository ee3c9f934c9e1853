"""Every kind of bad input: one line naming the file or knob and the fix, exit code 2, no traceback,
and no run folder or submission left behind.

Most cases call the CLIs' main() in the test process (the same code path as `python train.py`,
without a torch import per case); a few run the real scripts as subprocesses.
"""
import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import inference
import train
from model.loss import LOSSES, supports

ROOT = Path(__file__).resolve().parent.parent


def _sets(values: dict) -> list[str]:
    return [a for k, v in values.items() for a in ("--set", f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}")]


def _tiny(data: Path, runs: Path) -> dict:  # as conftest's tiny_overrides
    return {"data_dir": str(data), "runs_dir": str(runs), "backbone": "test_resnet", "image_size": (32, 32),
            "batch_size": 16, "epochs": 1, "folds": 3, "num_workers": 0, "inference_batch_size": 32}


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory) -> Path:
    """One finished tiny run, for the inference and resume cases (which must not change it)."""
    runs = tmp_path_factory.mktemp("trained")
    train.main(_sets(_tiny(tiny_data, runs)))
    return next(runs.iterdir())


def _one_line_error(capsys, main, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---- ways to break a copy of the tiny data set ---------------------------------------------------
def _persons(data):
    return pd.read_csv(data / "train" / "train.csv", dtype=str, keep_default_na=False)


def _first_folder(data):
    return data / "train" / "images" / _persons(data).loc[0, "path"]


def _edit_person(column, value):
    def edit(data):
        persons = _persons(data)
        persons.loc[0, column] = value(persons) if callable(value) else value
        persons.to_csv(data / "train" / "train.csv", index=False)
    return edit


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _second_mask2(data):
    first = next(_first_folder(data).glob("mask2.*"))
    shutil.copy(first, first.with_suffix(".jpg" if first.suffix == ".png" else ".png"))


def _two_bad_images(data):
    folder = _first_folder(data)
    _truncate(next(folder.glob("mask1.*")))
    next(folder.glob("normal.*")).write_bytes(b"not a picture")


def _every_image_bad(data):
    for file in (data / "train" / "images").glob("*/*"):
        file.write_bytes(b"")


def _edit_info(change):
    def edit(data):
        info = change(pd.read_csv(data / "eval" / "info.csv", dtype=str))
        info.to_csv(data / "eval" / "info.csv", index=False)
    return edit


def _set_image_id(value):
    def change(info):
        info.loc[2, "ImageID"] = value
        return info
    return _edit_info(change)


def _repeat_first_person(data):  # the row again at the end: line 38 (36 persons + header)
    persons = _persons(data)
    pd.concat([persons, persons.iloc[[0]]]).to_csv(data / "train" / "train.csv", index=False)


def _beside(name, text):
    """A file beside the data folder; the case's extra arguments name it."""
    def write(data):
        (data.parent / name).write_text(text.format(person=_persons(data).loc[0, "id"]))
        return data.parent / name
    return write


def _args(*args_of):
    """A breaker that writes files and passes extra command-line arguments: each item is a
    string, or a function of the data folder returning a path."""
    def breaker(data):
        return [str(a(data)) if callable(a) else a for a in args_of]
    return breaker


def _set_file(knob, make):
    return _args("--set", lambda data: f"{knob}={str(make(data))!r}")


def _cut_weights(data):
    file = data.parent / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, file)
    _truncate(file)  # a download cut short
    return file


def _first_eval_image(data):
    return data / "eval" / "images" / pd.read_csv(data / "eval" / "info.csv", dtype=str).loc[0, "ImageID"]


TRAIN_CASES = {
    "data_dir missing": (None, {"data_dir": "nowhere"}, ["nowhere does not exist", "set data_dir", "demo"]),
    "train.csv missing": (lambda d: (d / "train" / "train.csv").unlink(), {}, ["train.csv not found", "columns"]),
    "train.csv without age": (lambda d: _persons(d).drop(columns="age").to_csv(d / "train" / "train.csv", index=False),
                              {}, ["train.csv: missing column(s) age", "expected columns"]),
    "person folder missing": (lambda d: shutil.rmtree(_first_folder(d)), {}, ["folder not found", "train.csv"]),
    "one of the 7 images missing": (lambda d: next(_first_folder(d).glob("normal.*")).unlink(), {},
                                    ["missing normal", "all seven pictures"]),
    "two files with one stem": (_second_mask2, {}, ["two files for mask2", "keep one"]),
    "unknown file stem": (lambda d: (_first_folder(d) / "mask6.jpg").write_bytes(b"x"), {},
                          ["mask6.jpg: unexpected file", "only mask1"]),
    "folder name does not match its row": (_edit_person("path", lambda p: p.loc[1, "path"]), {},
                                           ["train.csv line 2: path", "does not match its row", "rename"]),
    "age not a number": (_edit_person("age", "forty"), {}, ["line 2: age 'forty' must be a whole number in 0..120"]),
    "age out of range": (_edit_person("age", "130"), {}, ["line 2: age '130' must be a whole number in 0..120"]),
    "gender not male/female": (_edit_person("gender", "f"), {}, ["line 2: gender 'f' must be male or female"]),
    "truncated and undecodable images": (_two_bad_images, {}, [
        "2 of 252 training images cannot be used", "mask1", "(not a decodable image)", "normal",
        "set skip_bad_images=True"]),
    "no persons": (lambda d: _persons(d).head(0).to_csv(d / "train" / "train.csv", index=False), {},
                   ["train.csv: no training images found"]),
    "empty after leaving out bad images": (_every_image_bad, {"skip_bad_images": True},
                                           ["no usable training images left after leaving out 252"]),
    "config typo": (None, {"bach_size": 8}, ["unknown config knob 'bach_size'; did you mean 'batch_size'?"]),
    "config wrong type": (None, {"epochs": "two"}, ["config knob 'epochs' must be an integer, got 'two'"]),
    "config wrong value": (None, {"checkpoint_every_steps": -1}, ["'checkpoint_every_steps' must be 0 (off) or more"]),
    "name climbing out of runs_dir": (None, {"name": "../escape"}, ["config knob 'name' must be a folder-name prefix",
                                                                     "set runs_dir"]),
    "class weights for a head the trainer lacks": (None, {"class_weights": {"age": [1, 1, 4]}}, [
        "config knob 'class_weights' names 'age', not a head of the 'single' trainer (its heads: class)"]),
    "name as an absolute path": (None, {"name": "/abs"}, ["config knob 'name' must be a folder-name prefix"]),
    "unknown trainer": (None, {"trainer": "singel"}, ["unknown trainer 'singel'; known:", "single"]),
    "sigmoid head with a softmax-only loss": (None, {"loss": "softmax_only", "sigmoid_heads": ["class"]}, [
        "loss 'softmax_only' works on softmax heads only, but head 'class' is a sigmoid head",
        "remove 'class' from sigmoid_heads"]),
    "head knob naming another trainer's head": (None, {"head_loss": {"age": "ce"}}, [
        "'head_loss' names 'age', not a head of the 'single' trainer"]),
    "same person twice in train.csv": (_repeat_first_person, {}, [
        "train.csv line 38: person id", "repeats line 2", "delete the repeated row"]),
    "experiment file setting a knob twice": (
        _args("--config", _beside("twice.py", "epochs = 2\nlr = 0.1\nepochs = 3\n")), {},
        ["twice.py: knob 'epochs' is set twice (lines 1 and 3)", "keep one"]),
    "experiment file that is not Python": (_args("--config", _beside("exp.yaml", "epochs: 2\n")), {},
                                           ["exp.yaml: not a .py file", "epochs = 20"]),
    "typo in an experiment file, with --set": (_args("--config", _beside("exp.py", "bach_size = 8\n")), {},
                                               ["exp.py: unknown config knob 'bach_size'; did you mean 'batch_size'?"]),
    "data_dir pointing at train/": (None, {"data_dir": "data/train"}, [
        "holds no train/ or eval/ folder", "point data_dir at the folder holding train/ and eval/", "here probably"]),
    "half-downloaded weights_file": (_set_file("weights_file", _cut_weights), {}, [
        "weights_file", "resnet.pth is not a readable weights file", "download it again"]),
    "a word that is no KNOB=VALUE": (_args("lr"), {}, ["unrecognized argument(s) lr", "KNOB=VALUE"]),
    "a bare knob that does not exist": (_args("lrr=0.1"), {}, ["unknown config knob 'lrr'", "did you mean 'lr'"]),
    "empty corrections file": (_set_file("corrections", _beside("fixes.csv", "")), {},
                               ["fixes.csv: cannot be read as CSV", "id,field,value"]),
    "corrections fixing one field twice": (
        _set_file("corrections", _beside("fixes.csv", "id,field,value\n{person},age,61\n{person},age,16\n")), {},
        ["fixes.csv line 3: id", "sets age again (line 2)", "keep one"]),
    "runs_dir naming a file": (_set_file("runs_dir", _beside("runs.txt", "")), {},
                               ["config knob 'runs_dir'", "runs.txt is not a folder"]),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_bad_training_input(case, data_copy, tmp_path, capsys, monkeypatch):
    breaker, changes, expected = TRAIN_CASES[case]
    # a stand-in for a loss that only makes sense on softmax heads
    monkeypatch.setitem(LOSSES._entries, "softmax_only", supports("softmax")(lambda activation, **_: None))
    extra = breaker(data_copy) if breaker else None  # an _args breaker returns command-line arguments
    values = {**_tiny(data_copy, tmp_path / "runs"), **changes}
    if "data_dir" in changes:
        values["data_dir"] = str(tmp_path / changes["data_dir"])
    line = _one_line_error(capsys, train.main, _sets(values) + (extra if isinstance(extra, list) else []))
    assert all(words in line for words in expected), line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


RESUME_CASES = {
    "folder without config.json": (lambda run, tmp: ["--resume", str(tmp)], ["no config.json there"]),
    "auto without runs of this name": (lambda run, tmp: ["--resume", "auto", "--set", "name='other'",
                                                         "--set", f"runs_dir={str(run.parent)!r}"],
                                       ["no runs of config name 'other'"]),
    "changed knobs": (lambda run, tmp: ["--resume", str(run), "--set", "lr=0.5", "--set", "backbone='resnet18'"],
                      ["knobs differ from the saved run: backbone, lr", "--force"]),
    "checkpoint of another head layout": (lambda run, tmp: ["--resume", str(run), "--force",
                                                            "--set", "trainer='multihead'"],
                                          ["last.pt: made for backbone 'test_resnet' with heads {'class': 18}",
                                           "not 'test_resnet' with {'mask': 3, 'gender': 2, 'age': 3}"]),
    "run without last.pt": (lambda run, tmp: ["--resume", str(_without(run, tmp, "last.pt"))],
                            ["no last.pt there", "start a new run"]),
    "empty last.pt": (lambda run, tmp: ["--resume", str(_emptied(run, tmp, "last.pt"))],
                      ["last.pt: an empty file (0 bytes), not a checkpoint"]),
    "cut-off config.json": (lambda run, tmp: ["--resume", str(_cut(run, tmp, "config.json"))],
                            ["config.json: not a readable config.json", "cut off or edited by hand"]),
    "config.json of another version": (lambda run, tmp: ["--resume", str(_edited(run, tmp, future_knob=1))],
                                       ["'future_knob' unknown to this mask18", "saved by another version"]),
}


def _cut(run, tmp, name):
    copy = Path(shutil.copytree(run, tmp / "copy"))
    (copy / name).write_bytes((copy / name).read_bytes()[:100])
    return copy


def _edited(run, tmp, **knobs):
    copy = Path(shutil.copytree(run, tmp / "copy"))
    _foreign(*next(iter(knobs.items())))(copy)
    return copy


def _emptied(run, tmp, name):
    copy = Path(shutil.copytree(run, tmp / "copy"))
    (copy / name).write_bytes(b"")
    return copy


def _without(run, tmp, name):
    copy = Path(shutil.copytree(run, tmp / "copy"))
    (copy / name).unlink()
    return copy


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_bad_resume(case, trained, tmp_path, capsys):
    argv, expected = RESUME_CASES[case]
    before = _snapshot(trained)
    line = _one_line_error(capsys, train.main, argv(trained, tmp_path))
    assert all(words in line for words in expected), line
    assert _snapshot(trained) == before and list(trained.parent.iterdir()) == [trained]


def _foreign(knob, value):
    """The run's config.json says another model than the one its checkpoint holds."""
    def edit(run):
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, knob: value}))
    return edit


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


INFERENCE_CASES = {
    "info.csv missing": ((lambda d: (d / "eval" / "info.csv").unlink()), None, ["info.csv not found", "ImageID"]),
    "info.csv without ImageID": (_edit_info(lambda info: info.rename(columns={"ImageID": "id"})),
                                 None, ["info.csv: missing column(s) ImageID"]),
    "absolute ImageID": (_set_image_id("/etc/passwd"), None, ["line 4: ImageID '/etc/passwd' must name a file inside"]),
    "ImageID escaping images/": (_set_image_id("../../train/train.csv"), None,
                                 ["line 4: ImageID '../../train/train.csv' must name a file inside eval/images"]),
    "eval image missing": ((lambda d: _first_eval_image(d).unlink()), None,
                           ["line 2: image eval/images/", "not found"]),
    "truncated eval image": ((lambda d: _truncate(_first_eval_image(d))), None,
                             ["1 of 28 eval images cannot be used", "replace them: every eval image needs"]),
    "empty folder": (None, lambda run: [p.unlink() for p in run.iterdir()], ["no config.json there"]),
    "run without a checkpoint": (None, lambda run: (run / "best.pt").unlink(),
                                 ["best.pt: checkpoint not found", "train first"]),
    "checkpoint of another head layout": (None, _foreign("trainer", "multihead"),
                                          ["made for backbone 'test_resnet' with heads {'class': 18}"]),
    "checkpoint of another backbone": (None, _foreign("backbone", "resnet10t"),
                                       ["made for backbone 'test_resnet'", "not 'resnet10t'"]),
    "checkpoint carrying code": (None, lambda run: torch.save({"model": _Payload()}, run / "best.pt"),
                                 ["best.pt: refused, it holds more than weights"]),
    "half-written checkpoint": (None, lambda run: _truncate(run / "best.pt"), ["best.pt: not a readable checkpoint"]),
    "empty checkpoint": (None, lambda run: (run / "best.pt").write_bytes(b""), [
        "best.pt: an empty file (0 bytes), not a checkpoint", "pick another run"]),
    "plain pickle as checkpoint": (None, lambda run: (run / "best.pt").write_bytes(pickle.dumps({"model": [1]})), [
        "best.pt: not a checkpoint torch.save wrote", "a plain pickle"]),
    "cut-off config.json": (None, lambda run: (run / "config.json").write_text('{"lr": 0.00'),
                            ["config.json: not a readable config.json"]),
    "config.json holding no knobs": (None, lambda run: (run / "config.json").write_text("[1, 2]"),
                                     ["config.json: holds no knobs"]),
    "repeated ImageID": (_edit_info(lambda info: pd.concat([info, info.iloc[[0]]])), None, [
        "info.csv line 30: ImageID", "repeats line 2", "delete the repeated row"]),
}


@pytest.mark.parametrize("case", list(INFERENCE_CASES))
def test_bad_inference_input(case, trained, data_copy, tmp_path, capsys):
    break_data, break_run, expected = INFERENCE_CASES[case]
    run = Path(shutil.copytree(trained, tmp_path / "run"))
    if break_data:
        break_data(data_copy)
    if break_run:
        break_run(run)
    out = tmp_path / "out" / "submission.csv"
    line = _one_line_error(capsys, inference.main, ["--run", str(run), "--data-dir", str(data_copy), "--out", str(out)])
    assert all(words in line for words in expected), line
    assert not out.parent.exists() or not list(out.parent.iterdir())


INFERENCE_ARG_CASES = {
    "--run that does not exist": (lambda run: ["--run", str(run) + "-typo"], ["-typo: no such folder"]),
    "--out naming a folder": (lambda run: ["--run", str(run), "--out", "{out}"], [
        "--out", "is a folder", "submission.csv"]),
    "--probs naming a folder": (lambda run: ["--run", str(run), "--probs", "{out}"], ["--probs", "is a folder"]),
    "--weights all 0": (lambda run: ["--run", str(run), "--weights", "0"], ["--weights", "0 or more, not all 0"]),
    "--weights negative": (lambda run: ["--run", str(run), "--run", str(run), "--weights", "2", "-1"],
                           ["--weights", "0 or more, not all 0", "got 2.0 -1.0"]),
    "--out inside a file": (lambda run: ["--run", str(run), "--out", str(run / "config.json" / "s.csv")],
                            ["--out", "cannot make its folder"]),
    "--answers missing": (lambda run: ["--run", str(run), "--answers", "{out}/answers.csv"],
                          ["--answers", "answers.csv not found"]),
    "--batch-size 0": (lambda run: ["--run", str(run), "--batch-size", "0"],
                       ["--batch-size", "'0' must be a whole number"]),
    "--checkpoint given a file name": (lambda run: ["--run", str(run), "--checkpoint", "best.pt"],
                                       ["--checkpoint: invalid choice: 'best.pt'", "--help"]),
}


@pytest.mark.parametrize("case", list(INFERENCE_ARG_CASES))
def test_bad_inference_arguments(case, trained, tmp_path, capsys):
    argv, expected = INFERENCE_ARG_CASES[case]
    before, out = _snapshot(trained), tmp_path / "out"
    out.mkdir()
    args = [a.format(out=out) for a in argv(trained)]
    line = _one_line_error(capsys, inference.main, args + ([] if "--out" in args else ["--out", str(out / "s.csv")]))
    assert all(words in line for words in expected), line
    assert not list(out.iterdir()) and _snapshot(trained) == before


def test_the_real_scripts_answer_bad_input_with_one_line(trained, data_copy, tmp_path):
    """Through `python train.py` / `python inference.py` themselves: native decoder warnings
    (libjpeg, libpng) must not add lines either."""
    images = sorted((data_copy / "train" / "images").glob("*/*"))
    for suffix in (".png", ".jpg", ".jpeg"):  # libpng would complain on stderr about a PNG
        _truncate(next(f for f in images if f.suffix == suffix))
    run = Path(shutil.copytree(trained, tmp_path / "run"))
    torch.save({"model": _Payload()}, run / "best.pt")
    out = tmp_path / "submission.csv"
    commands = {
        "train.py": ([*_sets(_tiny(data_copy, tmp_path / "runs"))], "3 of 252 training images cannot be used"),
        "inference.py": (["--run", str(run), "--out", str(out)], "refused, it holds more than weights"),
    }
    for script, (argv, expected) in commands.items():
        result = subprocess.run([sys.executable, script, *argv], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr, result.stderr
        assert "this must never run" not in result.stdout
    assert not (tmp_path / "runs").exists() and not out.exists()


def test_a_foreign_checkpoint_file_is_one_line_without_torchs_warnings(tmp_path, recwarn):
    """A plain pickle made with protocol 4 makes torch warn about the protocol; the one line must
    stay the only thing said."""
    from base import checkpoint_files
    from base.errors import UserError

    (tmp_path / "best.pt").write_bytes(pickle.dumps({"model": {"w": 1}}, protocol=4))
    with pytest.raises(UserError, match="not a checkpoint torch.save wrote"):
        checkpoint_files.load(tmp_path / "best.pt")
    assert not recwarn.list, [str(w.message) for w in recwarn.list]


def test_a_run_name_with_a_space_prints_a_next_line_that_pastes(tiny_overrides, capfd):
    import shlex

    train.main([a for o in [*tiny_overrides, "name='my run'"] for a in ("--set", o)])
    err = capfd.readouterr().err
    line = next(line for line in err.splitlines() if "next: python inference.py --run" in line)
    words = shlex.split(line.split("next: ", 1)[1])
    assert words[:3] == ["python", "inference.py", "--run"] and Path(words[3]).is_dir(), line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_stopped_before_its_first_checkpoint_leaves_no_folder(tiny_overrides, tmp_path, monkeypatch, capsys,
                                                                     signum):
    """A scheduler's SIGTERM cleans up as Ctrl-C does: a new folder without a checkpoint would be
    the "newest run" a bare inference.py and --resume auto pick, hiding the good runs."""
    from base.base_trainer import BaseTrainer

    real = BaseTrainer.train_epoch

    def stopped_in_epoch_one(self, loader, progress):
        os.kill(os.getpid(), signum)  # delivered here, in the first epoch
        return real(self, loader, progress)

    monkeypatch.setattr(BaseTrainer, "train_epoch", stopped_in_epoch_one)
    unhandled = []  # where train.py sets no handler of its own, this one gets SIGTERM (not the test run)

    def recorder(*_):
        unhandled.append(1)

    before = signal.signal(signal.SIGTERM, recorder)
    # Ctrl-C as a terminal gives it: a shell starts background jobs (CI, nohup) with SIGINT ignored
    interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as exit_:
            train.main([a for o in tiny_overrides for a in ("--set", o)])
    finally:
        mine = signal.signal(signal.SIGTERM, before)
        signal.signal(signal.SIGINT, interrupt)
    assert not unhandled
    assert exit_.value.code == {signal.SIGTERM: 143, signal.SIGINT: 130}[signum]
    assert capsys.readouterr().err.strip().splitlines()[-1] in ("terminated (SIGTERM)", "interrupted")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    assert mine is recorder  # the command's handler lives as long as the command


def test_a_read_only_runs_dir_is_one_line(tiny_overrides, tmp_path, capsys, monkeypatch):
    """Tests run as root, for whom no folder is read-only: the OS's answer is put in mkdir's mouth."""
    real = Path.mkdir

    def read_only(self, *args, **kwargs):
        if tmp_path / "runs" in (self, *self.parents):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    line = _one_line_error(capsys, train.main, [a for o in tiny_overrides for a in ("--set", o)])
    assert "config knob 'runs_dir': cannot create a run folder in" in line and "Read-only file system" in line, line


@pytest.mark.parametrize("failure", ["ENOSPC", "torch's unexpected pos"])
def test_a_full_disk_while_a_checkpoint_is_written_says_so_and_keeps_the_old_one(tmp_path, monkeypatch, failure):
    from base import atomic
    from base.errors import UserError

    target = tmp_path / "last.pt"
    atomic.torch_save(target, {"epoch": 1})
    before = target.read_bytes()

    def full(obj, file):
        Path(file).write_bytes(b"half")
        if failure == "ENOSPC":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 5568 vs 5456")

    monkeypatch.setattr(atomic.torch, "save", full)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(UserError, match=r"last.pt: not written, the disk is full \(0 MiB free .*the previous "
                                        r"last.pt is unchanged"):
        atomic.torch_save(target, {"epoch": 2})
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_an_unrelated_write_error_is_not_called_a_full_disk(tmp_path, monkeypatch):
    from base import atomic

    monkeypatch.setattr(atomic.torch, "save", lambda obj, file: (_ for _ in ()).throw(RuntimeError("cuda error")))
    with pytest.raises(RuntimeError, match="cuda error"):  # plenty of space: torch's own error stands
        atomic.torch_save(tmp_path / "last.pt", {"epoch": 2})


def test_resuming_a_run_that_is_still_training_is_one_line_and_touches_nothing(trained, tmp_path, capsys):
    run = Path(shutil.copytree(trained, tmp_path / "live"))
    (run / ".last.pt.abc.tmp").write_bytes(b"the live run is writing this")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.ftruncate(fd, 0); os.write(fd, b'process 4242 on node7')\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _snapshot(run)
        line = _one_line_error(capsys, train.main, ["--resume", str(run), "--set", "epochs=2"])
        assert f"{run} is being trained right now by process 4242 on node7" in line, line
        assert _snapshot(run) == before  # the live run's temp file included
    finally:
        holder.kill()
        holder.wait()
    train.main(["--resume", str(run), "--set", "epochs=2"])  # once it is gone, the run goes on
    assert not (run / ".last.pt.abc.tmp").exists()
