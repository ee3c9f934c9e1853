"""Optional: the real-face benchmark builder's output trains and scores with no other change.

Skipped where ../shared/facebench (not shipped with the project) is absent.
"""
import subprocess
import sys
from pathlib import Path

import pytest

import inference
import train

FACEBENCH = Path(__file__).resolve().parents[2] / "shared" / "facebench"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (FACEBENCH / "build.py").is_file(), reason="../shared/facebench not present")]


def test_competition_layout_from_real_faces_trains_and_scores(tmp_path):
    data = tmp_path / "facebench"
    subprocess.run([sys.executable, FACEBENCH / "build.py", "--out", data, "--train-persons", "45",
                    "--eval-persons", "10"], check=True, capture_output=True)
    runs = tmp_path / "runs"
    train.main(["--set", f"data_dir={str(data)!r}", "--set", f"runs_dir={str(runs)!r}", "--set", "backbone=test_resnet",
                "--set", "image_size=32,32", "--set", "epochs=1", "--set", "folds=3", "--set", "num_workers=0"])
    (run,) = runs.iterdir()
    submission = tmp_path / "submission.csv"
    inference.main(["--run", str(run), "--out", str(submission)])
    scored = subprocess.run([sys.executable, FACEBENCH / "score.py", submission, data / "eval" / "answers.csv"],
                            capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    assert "F1" in scored.stdout or "f1" in scored.stdout
