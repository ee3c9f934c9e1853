"""Face crop: the box geometry, detection on faces at known places, the fallback, the offline copy
of the layout (complete, restartable, whole files only) and the on-the-fly transform."""
from __future__ import annotations

import filecmp

import cv2
import numpy as np
import pandas as pd
import pytest

from base import config as config_lib
from data_loader import demo_data, face_crop, image_cache
from data_loader.datasets import image_reader
from data_loader.face_crop import FALLBACK, MANIFEST, centre_box, crop_box, crop_folder, find_crop, main
from data_loader.face_detectors import Detector, mediapipe_available
from data_loader.images import read_rgb
from data_loader.layout import read_train

CANVAS = (512, 384)  # the competition's photo size; the drawn face sits somewhere on it


def face_on_canvas(rng: np.random.Generator, number: int, stem: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """A demo face drawn into a 200x150 tile placed at random on a plain 512x384 canvas, and the
    face's box (the drawn face ellipse) in canvas pixels."""
    person = demo_data._person(rng, number)
    th, tw = 200, 150
    tile = cv2.cvtColor(demo_data.draw(person, stem, (th, tw), rng), cv2.COLOR_BGR2RGB)
    height, width = CANVAS
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = np.linspace(70, 170, height).astype(np.uint8)[:, None, None]
    y, x = int(rng.integers(0, height - th)), int(rng.integers(0, width - tw))
    canvas[y:y + th, x:x + tw] = tile
    cx, cy = x + tw / 2, y + 0.44 * th  # where demo_data.draw puts the face ellipse
    rx, ry = person.face_w * tw, person.face_h * th
    return canvas, (cx - rx, cy - ry, cx + rx, cy + ry)


def contains(crop, box) -> bool:
    return crop[0] <= box[0] and crop[1] <= box[1] and crop[2] >= box[2] and crop[3] >= box[3]


class Fixed:
    """A stand-in detector that reports the given boxes."""

    def __init__(self, boxes):
        self.boxes = boxes

    def __call__(self, image):
        return list(self.boxes), "fixed" if self.boxes else ""


# ---- geometry ---------------------------------------------------------------------------------
@pytest.mark.parametrize("face", [(150, 100, 230, 200), (0, 0, 60, 80), (330, 440, 384, 512), (-20, 30, 90, 130)])
def test_crop_box_holds_the_face_with_margin_in_the_output_aspect_inside_the_picture(face):
    height, width = CANVAS
    box = crop_box(face, height, width, margin=0.4, aspect=4 / 3)
    clipped = (max(0, face[0]), max(0, face[1]), min(width, face[2]), min(height, face[3]))
    assert contains(box, clipped)
    assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
    assert abs((box[3] - box[1]) / (box[2] - box[0]) - 4 / 3) < 0.03
    fw, fh = clipped[2] - clipped[0], clipped[3] - clipped[1]
    assert box[2] - box[0] >= 1.8 * fw - 1 and box[3] - box[1] >= 1.8 * fh - 1  # 0.4 of the face per side


def test_crop_box_never_leaves_the_picture_when_the_face_fills_it():
    assert crop_box((5, 5, 95, 95), 100, 100, margin=0.5, aspect=1.0) == (0, 0, 100, 100)


def test_centre_box_keeps_the_given_share_around_the_centre():
    assert centre_box(512, 384, share=1.0, aspect=4 / 3) == (0, 0, 384, 512)
    x0, y0, x1, y1 = centre_box(512, 384, share=0.5, aspect=1.0)
    assert (x1 - x0, y1 - y0) == (192, 192) and (x0 + x1) / 2 == 192 and (y0 + y1) / 2 == 256


def test_the_largest_of_several_faces_is_kept():
    image = np.zeros((*CANVAS, 3), np.uint8)
    small, large = (10, 10, 40, 50), (200, 250, 300, 380)
    box, method = find_crop(image, Fixed([small, large]), margin=0.2, aspect=4 / 3, fallback=0.6)
    assert method == "fixed" and contains(box, large) and not contains(box, small)


# ---- detection --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["haar", "mediapipe"])
def test_detected_faces_at_known_places_are_inside_their_small_crop(name):
    if name == "mediapipe" and not mediapipe_available():
        pytest.skip("mediapipe is not installed (the facecrop extra)")
    detector, rng = Detector(name), np.random.default_rng(0)
    found = 0
    for i in range(18):
        canvas, face = face_on_canvas(rng, i, ("mask1", "normal", "incorrect_mask")[i % 3])
        box, method = find_crop(canvas, detector, margin=0.4, aspect=4 / 3, fallback=0.6)
        if method == FALLBACK:
            continue
        found += 1
        assert contains(box, face), (i, box, face)
        assert (box[2] - box[0]) * (box[3] - box[1]) < 0.6 * CANVAS[0] * CANVAS[1]
    # measured on these 18 faces: mediapipe finds all, haar alone 5
    assert found >= (17 if name == "mediapipe" else 4)


def test_no_face_falls_back_to_the_centre_crop():
    blank = np.full((*CANVAS, 3), 128, np.uint8)
    box, method = find_crop(blank, Detector("auto"), margin=0.4, aspect=4 / 3, fallback=0.5)
    assert method == FALLBACK and box == centre_box(*CANVAS, share=0.5, aspect=4 / 3)


# ---- the offline copy -------------------------------------------------------------------------
def test_crop_folder_writes_a_complete_usable_copy_and_restarts_where_it_stopped(tiny_data, tmp_path, capsys):
    dst = tmp_path / "cropped"
    main(["--src", str(tiny_data), "--dst", str(dst), "--detector", "haar", "--size", "40,30", "--workers", "2"])
    out = capsys.readouterr().out
    pictures = sorted(p.relative_to(tiny_data) for p in tiny_data.rglob("*") if p.suffix in (".jpg", ".jpeg", ".png"))
    assert sorted(p.relative_to(dst) for p in dst.rglob("*") if p.suffix in (".jpg", ".jpeg", ".png")) == pictures
    for csv in ("train/train.csv", "eval/info.csv", "eval/answers.csv"):
        assert filecmp.cmp(tiny_data / csv, dst / csv, shallow=False)
    assert all(read_rgb(str(dst / p)).shape == (40, 30, 3) for p in pictures[::25])
    assert not list(dst.rglob("*.tmp"))
    manifest = pd.read_csv(dst / MANIFEST)
    assert len(manifest) == len(pictures) and set(manifest["method"]) <= {"haar", FALLBACK}
    fallbacks = int((manifest["method"] == FALLBACK).sum())
    assert f"{len(pictures)} pictures ({len(pictures)} cropped now" in out and f"{fallbacks} {FALLBACK}" in out
    assert len(read_train(dst)) == len(read_train(tiny_data))  # data_dir = dst is all a user changes

    (dst / pictures[0]).unlink()
    before = {p: (dst / p).stat().st_mtime_ns for p in pictures[1:]}
    again, done_now = crop_folder(tiny_data, dst, "haar", size=(40, 30), workers=1, progress=False)
    assert done_now == 1 and (dst / pictures[0]).is_file()
    assert all((dst / p).stat().st_mtime_ns == t for p, t in before.items())  # the rest is skipped
    pd.testing.assert_frame_equal(again, manifest)


def _no_pictures(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "train" / "train.csv").write_text("id,gender,race,age,path\n")


@pytest.mark.parametrize("args, message", [
    (["--src", "{tmp}/nothing", "--dst", "{tmp}/out"], "--src {tmp}/nothing is not a folder"),
    (["--src", "{tmp}", "--dst", "{tmp}/out"], "no train/train.csv or eval/info.csv"),
    (["--src", "{data}", "--dst", "{tmp}/a_file"], "is a file; name a folder"),
    (["--src", "{data}", "--dst", "{data}/cropped"], "must be outside --src"),
    (["--src", "{tmp}/empty", "--dst", "{tmp}/out"], "no pictures under train/images or eval/images"),
    (["--src", "{data}", "--dst", "{tmp}/out", "--margin", "-1"], "--margin: '-1' must be a number, 0 or more"),
])
def test_bad_folders_end_in_one_line_and_exit_2(args, message, tiny_data, tmp_path, capsys, monkeypatch):
    """One line whatever is installed: the folders are checked before the note about a missing MediaPipe."""
    monkeypatch.setattr(face_crop, "mediapipe_available", lambda: False)
    _no_pictures(tmp_path)
    (tmp_path / "a_file").write_text("")
    message = message.format(tmp=tmp_path)
    with pytest.raises(SystemExit) as stop:
        main([a.format(tmp=tmp_path, data=tiny_data) for a in args])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


# ---- on the fly -------------------------------------------------------------------------------
def test_face_crop_knob_crops_before_the_cache_and_keys_the_cache(tiny_data, tmp_path):
    canvas, face = face_on_canvas(np.random.default_rng(1), 0, "normal")
    file = tmp_path / "face.png"
    cv2.imwrite(str(file), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    cfg = config_lib.load(overrides=["face_crop='haar'", "image_size=(64, 48)", "face_crop_fallback=0.5"])
    cropped = image_reader(cfg)(str(file))
    assert cropped.shape[0] < CANVAS[0] and abs(cropped.shape[0] / cropped.shape[1] - 64 / 48) < 0.05
    assert image_reader(cfg.replace(face_crop="off"))(str(file)).shape == (*CANVAS, 3)

    cfg = cfg.replace(cache="disk", cache_dir=str(tmp_path / "cache"))
    image_cache.load([str(file)], cfg)
    image_cache.load([str(file)], cfg.replace(face_crop="off"))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2  # a cropped cache is not reused uncropped


def test_a_fork_after_mediapipe_ran_gets_one_clear_line_not_an_abort():
    if not mediapipe_available():
        pytest.skip("mediapipe is not installed (the facecrop extra)")
    import os

    from base.errors import UserError

    detector = Detector("mediapipe")
    detector(np.zeros((64, 64, 3), np.uint8))
    pid = os.fork()
    if pid == 0:  # the child: a UserError is the promise, exit 3 tells the parent it came
        try:
            Detector("mediapipe")(np.zeros((64, 64, 3), np.uint8))
        except UserError:
            os._exit(3)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3


def test_a_run_trains_and_predicts_on_face_crops_made_on_the_fly(tiny_overrides, tmp_path, monkeypatch):
    import inference
    import train
    from data_loader import datasets

    seen = []
    real = datasets._read_cropped
    monkeypatch.setattr(datasets, "_read_cropped", lambda crop, file: seen.append(file) or real(crop, file))
    sets = [a for o in tiny_overrides + ["face_crop='haar'", "cache='memory'"] for a in ("--set", o)]
    train.main(sets)
    (run,) = (tmp_path / "runs").iterdir()
    inference.main(["--run", str(run), "--out", str(tmp_path / "submission.csv")])
    assert len(pd.read_csv(tmp_path / "submission.csv")) == 28
    assert len(set(seen)) == 252 + 28  # every training and eval picture went through the crop
