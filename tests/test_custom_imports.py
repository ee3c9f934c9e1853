"""custom_imports: a module of your own, named in the config, is imported wherever the config is
built, so what it registers is known to training, to inference and to resume in a fresh process."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import train
from base import config as config_lib
from model.loss import LOSSES

ROOT = Path(__file__).resolve().parent.parent
MODULE = '''
from model.loss import LOSSES, supports


@LOSSES.register("test_poly1")
@supports("softmax")
def poly1(activation, weights=None, epsilon=1.0, **_):
    """Cross-entropy plus epsilon * (1 - p_true)."""
    def loss(logits, target):
        log_p = logits.float().log_softmax(dim=1)
        p_true = (target * log_p.exp()).sum(dim=1)
        return (-(target * log_p).sum(dim=1) + epsilon * (1 - p_true)).mean()
    return loss
'''


@pytest.fixture
def my_losses(tmp_path, monkeypatch):
    """tmp_path/ext/my_losses.py, registering loss "test_poly1"; afterwards the module and its loss
    are forgotten again, as a fresh process would not know them. forget() does it at once."""
    folder = tmp_path / "ext"
    folder.mkdir()
    (folder / "my_losses.py").write_text(MODULE)
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._entries))

    def forget():
        LOSSES._entries.pop("test_poly1", None)
        sys.modules.pop("my_losses", None)

    forget.file = folder / "my_losses.py"
    yield forget
    forget()


def _python(*argv, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_loss_from_a_module_trains_and_a_fresh_inference_finds_it(my_losses, tiny_overrides, tmp_path,
                                                                     monkeypatch):
    monkeypatch.syspath_prepend(str(my_losses.file.parent))  # PYTHONPATH for this process
    train.main(["--set", *tiny_overrides, "loss=test_poly1", "custom_imports=['my_losses']"])
    (run,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "submission.csv"
    done = _python("inference.py", "--run", str(run), "--out", str(out), pythonpath=my_losses.file.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_csv(out)) == 28
    # Without the module's folder on the path: one line naming the module and the fix.
    lost = _python("inference.py", "--run", str(run), "--out", str(out))
    lines = lost.stderr.strip().splitlines()
    assert lost.returncode == 2 and len(lines) == 1, lost.stderr
    assert "config knob 'custom_imports': no module 'my_losses'" in lines[0] and "PYTHONPATH" in lines[0]


def test_a_file_path_is_imported_again_on_resume_without_config(my_losses, tiny_overrides, tmp_path):
    train.main(["--set", *tiny_overrides, "loss=test_poly1", f"custom_imports=['{my_losses.file}']"])
    (run,) = (tmp_path / "runs").iterdir()
    my_losses()  # a new process: no my_losses, no test_poly1
    train.main(["--resume", str(run), "--set", "epochs=2"])
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2]
    assert "test_poly1" in LOSSES


def test_a_config_read_back_or_sent_to_another_process_imports_them(my_losses):
    cfg = config_lib.load(overrides=[f"custom_imports=['{my_losses.file}']"])
    my_losses()
    config_lib.from_dict(cfg.to_dict(), source="config.json")  # inference, resume, tune.py's workers
    assert "test_poly1" in LOSSES
    my_losses()
    pickle.loads(pickle.dumps(cfg))  # torchrun: rank 0's config handed to the others
    assert "test_poly1" in LOSSES


@pytest.mark.parametrize("entry, message", [
    ("no_such_module_here", "no module 'no_such_module_here' on the Python path; add the folder that holds it to "
                            "PYTHONPATH"),
    ("missing/file.py", "missing/file.py not found (a relative path starts at the current folder"),
])
def test_an_import_that_cannot_happen_is_one_line_and_exit_2(entry, message, tiny_overrides, capsys):
    with pytest.raises(SystemExit) as stop:
        train.main(["--set", *tiny_overrides, f"custom_imports=['{entry}']"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1, err
    assert f"--set: config knob 'custom_imports': {message}" in err


def test_a_module_that_fails_or_clashes_names_itself(tmp_path):
    (tmp_path / "broken.py").write_text("import nowhere_to_be_found\n")
    with pytest.raises(Exception, match=r"importing .*broken.py failed \(ModuleNotFoundError: No module named "
                                        r"'nowhere_to_be_found'\); add the folder of 'nowhere_to_be_found'"):
        config_lib.load(overrides=[f"custom_imports=['{tmp_path / 'broken.py'}']"])
    assert "broken" not in sys.modules
    (tmp_path / "json.py").write_text("")
    with pytest.raises(Exception, match="would be module 'json', but a module of that name is imported already"):
        config_lib.load(overrides=[f"custom_imports=['{tmp_path / 'json.py'}']"])


def test_a_relative_file_path_is_kept_absolute_for_commands_run_elsewhere(my_losses, tmp_path, monkeypatch):
    monkeypatch.chdir(my_losses.file.parent)
    cfg = config_lib.load(None, ["custom_imports=['my_losses.py']", "loss=test_poly1"])
    assert cfg.custom_imports == [str(my_losses.file.resolve())]
    monkeypatch.chdir(tmp_path)  # inference.py from another folder reads config.json's entry
    my_losses()
    again = config_lib.from_dict(cfg.to_dict(), source="config.json")
    assert again.loss == "test_poly1" and "test_poly1" in LOSSES
