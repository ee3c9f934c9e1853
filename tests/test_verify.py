"""The image check: every bad file found before training, in one go, however it is bad."""
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from base.errors import UserError
from data_loader import verify


@pytest.fixture
def picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur((rng.random((96, 64, 3)) * 255).astype(np.uint8), (0, 0), 2)


def _write(path: Path, picture: np.ndarray, keep: float = 1.0, extra: bytes = b"") -> str:
    data = cv2.imencode(path.suffix, picture)[1].tobytes()
    path.write_bytes(data[: int(len(data) * keep)] + extra)
    return str(path)


def test_good_pictures_pass_and_bad_ones_say_why(tmp_path, picture):
    good = [_write(tmp_path / "a.jpg", picture), _write(tmp_path / "b.png", picture),
            _write(tmp_path / "c.jpg", picture, extra=b"\0" * 7 + b"data after the image")]
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not a picture")
    bad = {
        _write(tmp_path / "cut.jpg", picture, keep=0.6): ("not a decodable image", "truncated"),
        _write(tmp_path / "cut.png", picture, keep=0.6): ("not a decodable image",),
        str(tmp_path / "empty.jpg"): ("empty file",),
        str(tmp_path / "text.png"): ("not a decodable image",),
        str(tmp_path / "gone.jpg"): ("unreadable: No such file or directory",),
    }
    found = verify.bad_images([*bad, *good], threads=3)
    assert list(found) == list(bad)  # every bad file, in the order given
    assert all(found[f] in reasons for f, reasons in bad.items())


def test_a_truncated_jpeg_is_caught_even_where_opencv_decodes_it(tmp_path, picture, monkeypatch):
    # Some OpenCV versions return a truncated JPEG with its missing part grey instead of failing.
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: np.zeros((2, 2, 3), np.uint8))
    cut = _write(tmp_path / "cut.jpg", picture, keep=0.9)
    complete = _write(tmp_path / "ok.jpg", picture, extra=b"trailing bytes after the end-of-image marker")
    assert verify.bad_images([cut, complete]) == {cut: "truncated"}


def test_good_files_are_decoded_once_until_they_change(tmp_path, picture, monkeypatch):
    file = _write(tmp_path / "a.png", picture)
    assert verify.image_problem(file) is None
    monkeypatch.setattr(cv2, "imdecode", lambda data, flags: None)
    assert verify.image_problem(file) is None  # known good: not decoded again
    _write(tmp_path / "a.png", picture, keep=0.5)
    assert verify.image_problem(file) == "not a decodable image"


def test_bad_images_stop_training_in_one_line_or_are_left_out(tmp_path, picture, monkeypatch):
    files = [_write(tmp_path / f"{i}.jpg", picture, keep=0.5 if i in (1, 3, 4, 6) else 1.0) for i in range(8)]
    table = pd.DataFrame({"file": files, "label": range(8)})
    with pytest.raises(UserError) as err:
        verify.check_images(table, "training")
    message = str(err.value)
    assert "\n" not in message and message.startswith("4 of 8 training images cannot be used: ")
    assert all(files[i] in message for i in (1, 3, 4)) and "and 1 more" in message
    assert "set skip_bad_images=True" in message and "python -m data_loader.verify" in message

    warnings = []
    monkeypatch.setattr(logging.getLogger("mask18"), "warning", warnings.append)
    kept = verify.check_images(table, "training", skip=True)
    assert kept["label"].tolist() == [0, 2, 5, 7] and len(warnings) == 1 and "left out" in warnings[0]


def test_cli_lists_every_bad_image(data_copy, capsys):
    folder = next((data_copy / "train" / "images").iterdir())
    bad = sorted(folder.iterdir())[:4]
    for file in bad:
        file.write_bytes(file.read_bytes()[:40])
    assert verify.main([str(data_copy)]) == 1
    out = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.out.splitlines()] == [str(f) for f in bad]
    assert "4 of 280 images cannot be used" in out.err


@pytest.mark.parametrize("size", [(4, 4), (7, 30), (1, 1)])
@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_picture_with_a_side_under_8_pixels_is_good(tmp_path, size, ext):
    """OpenCV cannot decode it at an eighth of its size; decoded whole it is a picture."""
    file = tmp_path / f"small{ext}"
    assert cv2.imwrite(str(file), np.full((*size, 3), 120, np.uint8))
    assert verify.image_problem(str(file)) is None
