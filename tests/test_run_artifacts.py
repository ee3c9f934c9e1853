"""Run folders show themselves: curves, confusion matrices, F1 bars, error gallery, summary.json."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

import train
from base.base_trainer import BaseTrainer
from data_loader.layout import read_train
from logger import run_artifacts
from logger.fingerprint import config_hash, data_fingerprint

PNGS = ["curves.png", "train_batch.png", "confusion.png", "confusion_mask.png", "confusion_gender.png",
        "confusion_age.png", "f1_per_class.png", "errors.png"]


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def _png_size(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    image = cv2.imread(str(path))
    assert image is not None, f"{path} does not decode"
    return image.shape[:2]


def test_a_run_folder_gets_its_pictures_and_summary(tiny_overrides, tmp_path):
    best = train.main(_sets(tiny_overrides + ["epochs=2", "plots=True"]))
    (run,) = (tmp_path / "runs").iterdir()
    for name in PNGS:
        height, width = _png_size(run / name)
        assert height >= 200 and width >= 400, name  # a readable picture, not an empty canvas
    metrics = pd.read_csv(run / "metrics.csv")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_epoch"] == best["epoch"] == metrics.loc[metrics["val_f1"].idxmax(), "epoch"]
    assert summary["best"]["val_f1"] == pytest.approx(best["val_f1"])
    assert summary["epochs_done"] == 2 and summary["finished"] is True and summary["monitor"] == "val_f1"
    assert summary["wall_seconds"] > 0 and summary["images_per_second"] > 0
    assert summary["train_images"] == 2 * 160  # 168 training images in batches of 16, the last one dropped
    assert len(summary["config_hash"]) == 12 and len(summary["data_fingerprint"]) == 12


def test_plots_off_leaves_only_the_summary(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides + ["plots=False"]))  # as tiny_overrides has it; said here for the reader
    (run,) = (tmp_path / "runs").iterdir()
    assert not list(run.glob("*.png"))
    assert json.loads((run / "summary.json").read_text())["epochs_done"] == 1


def test_separate_group_members_show_their_attribute_and_the_group_its_combination(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides + ["trainer=separate", "gallery_size=4", "plots=True"]))
    (group,) = (tmp_path / "runs").iterdir()
    for name in ("confusion.png", "confusion_age.png", "f1_per_class.png", "errors.png"):
        _png_size(group / name)
    for task in ("mask", "gender", "age"):
        member = group / task
        assert {p.name for p in member.glob("confusion*.png")} == {f"confusion_{task}.png"}
        _png_size(member / "errors.png")
        assert json.loads((member / "summary.json").read_text())["monitor"] == f"val_f1_{task}"


def test_summary_counts_every_part_of_a_resumed_run(tiny_overrides, tmp_path, monkeypatch):
    end_epoch = BaseTrainer.end_epoch

    def crash_after_first_epoch(self, row):
        end_epoch(self, row)
        raise KeyboardInterrupt

    monkeypatch.setattr(BaseTrainer, "end_epoch", crash_after_first_epoch)
    with pytest.raises(SystemExit):
        train.main(_sets(tiny_overrides + ["epochs=2"]))
    monkeypatch.setattr(BaseTrainer, "end_epoch", end_epoch)
    (run,) = (tmp_path / "runs").iterdir()
    first = json.loads((run / "summary.json").read_text())
    assert first["epochs_done"] == 1 and first["finished"] is False
    train.main(["--resume", str(run)])
    resumed = json.loads((run / "summary.json").read_text())
    assert resumed["train_images"] == 2 * first["train_images"]
    assert resumed["wall_seconds"] > first["wall_seconds"] and resumed["epochs_done"] == 2


def test_every_head_layout_is_scored_as_18_classes_or_its_one_attribute():
    everything = [None, "mask", "gender", "age"]
    assert run_artifacts.views(["class"]) == run_artifacts.views(["mask", "gender", "age"]) == everything
    assert run_artifacts.views(["age"]) == ["age"]


def test_error_gallery_shows_the_most_confident_mistakes_first():
    labels = np.array([0, 1, 2, 3])
    probs = np.full((4, 18), 0.01)
    probs[0, 0] = 0.9   # right
    probs[1, 5] = 0.6   # wrong, less sure
    probs[2, 7] = 0.95  # wrong, most sure
    probs[3, 3] = 0.5   # right
    probs /= probs.sum(axis=1, keepdims=True)
    truth, pred, confidence, _ = run_artifacts.view(labels, probs, None)
    assert run_artifacts.most_confident_mistakes(truth, pred, confidence, 5).tolist() == [2, 1]
    # Classes 0, 1, 2 are male, 3 and 5 female, 7 (incorrect/male/30-59) male: decoded as metrics.csv does.
    truth, pred, confidence, names = run_artifacts.view(labels, probs, "gender")
    assert truth.tolist() == [0, 0, 0, 1] and pred.tolist() == [0, 1, 0, 1] and names == ("male", "female")
    assert run_artifacts.most_confident_mistakes(truth, pred, confidence, 5).tolist() == [1]


def test_config_hash_ignores_bookkeeping_knobs(tiny_cfg):
    assert config_hash(tiny_cfg) == config_hash(tiny_cfg.replace(name="other", runs_dir="elsewhere", plots=False))
    assert config_hash(tiny_cfg) != config_hash(tiny_cfg.replace(lr=0.1))


def test_data_fingerprint_follows_the_files_not_their_location(data_copy, tiny_data):
    fingerprint = data_fingerprint(read_train(tiny_data))
    assert data_fingerprint(read_train(data_copy)) == fingerprint  # the same data elsewhere
    picture = sorted((data_copy / "train" / "images").glob("*/mask1.*"))[0]
    picture.write_bytes(picture.read_bytes() + b"\0")  # re-encoded: another size
    assert data_fingerprint(read_train(data_copy)) != fingerprint
