"""Every way of learning the 18 classes trains on the tiny demo data and writes a valid submission."""
import pandas as pd
import pytest

import inference
import train


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def _check_submission(run, tiny_data, tmp_path):
    out = tmp_path / "submission.csv"
    inference.main(["--run", str(run), "--out", str(out)])
    sub, info = pd.read_csv(out), pd.read_csv(tiny_data / "eval" / "info.csv")
    assert sub["ImageID"].tolist() == info["ImageID"].tolist() and sub["ans"].between(0, 17).all()


@pytest.mark.parametrize("knobs", [
    ["trainer=single"],
    ["trainer=single", "sigmoid_heads=['class']"],
    ["trainer=multihead", "head_weights={'mask': 1.0, 'gender': 0.5, 'age': 2.0}"],
    ["trainer=multihead", "sigmoid_heads=['mask', 'gender', 'age']"],
    ["trainer=attribute", "task=age"],
    ["trainer=multihead", "age_target=years", "class_weights=sqrt_inverse", "mix=cutmix"],
    ["trainer=attribute", "task=age", "age_target=years"],
])
def test_each_trainer_kind_trains_and_submits(knobs, tiny_overrides, tiny_data, tmp_path):
    train.main(_sets(tiny_overrides + knobs))
    (run,) = (tmp_path / "runs").iterdir()
    metrics = pd.read_csv(run / "metrics.csv")
    for column in ("val_f1", "val_f1_mask", "val_f1_gender", "val_f1_age", "val_f1_train_labels"):
        assert metrics[column].between(0, 1).all()
    _check_submission(run, tiny_data, tmp_path)


def test_separate_models_train_into_one_group_and_combine(tiny_overrides, tiny_data, tmp_path, capsys):
    row = train.main(_sets(tiny_overrides + ["trainer=separate", "sigmoid_heads=['gender']"]))
    (group,) = (tmp_path / "runs").iterdir()
    assert {"config.json", "group.json", "metrics.csv", "mask", "gender", "age"} <= {p.name for p in group.iterdir()}
    for task in ("mask", "gender", "age"):
        member = pd.read_csv(group / task / "metrics.csv")
        assert (group / task / "best.pt").is_file() and len(member) == 1
    combined = pd.read_csv(group / "metrics.csv")
    assert combined["val_f1"].iloc[0] == pytest.approx(row["val_f1"])
    assert "separate group" in capsys.readouterr().err
    _check_submission(group, tiny_data, tmp_path)


def test_attribute_model_monitors_its_own_attribute(tiny_cfg):
    from trainer import get_trainer

    gender = tiny_cfg.replace(trainer="attribute", task="gender")
    assert get_trainer("attribute")(gender).monitor.metric == "val_f1_gender"
    assert get_trainer("single")(tiny_cfg).monitor.metric == "val_f1"


def test_training_thresholds_change_training_labels_not_scoring(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides + ["age_thresholds=30,45"]))
    (run,) = (tmp_path / "runs").iterdir()
    metrics = pd.read_csv(run / "metrics.csv")
    # 45-59-year-olds are "old" for training; the official F1 scores them as 30-59.
    assert (metrics["val_f1_age"] != metrics["val_f1_age_train_labels"]).all()


def test_a_finished_group_resumes_without_training_again(tiny_overrides, tmp_path):
    first = train.main(_sets(tiny_overrides + ["trainer=separate"]))
    (group,) = (tmp_path / "runs").iterdir()
    stamps = {t: (group / t / "last.pt").stat().st_mtime_ns for t in ("mask", "gender", "age")}
    again = train.main(["--resume", str(group)])
    assert again["val_f1"] == pytest.approx(first["val_f1"])
    assert stamps == {t: (group / t / "last.pt").stat().st_mtime_ns for t in ("mask", "gender", "age")}


@pytest.mark.parametrize("knobs", [
    ["trainer=single", "augment=strong", "mix=vertical_cutmix", "mix_prob=1.0", "loss={'ce': 0.3, 'f1': 0.7}",
     "sampler=weighted", "class_weights=inverse"],
    ["trainer=multihead", "mix=cutmix", "head_loss={'age': 'focal', 'gender': 'label_smoothing'}",
     "sigmoid_heads=['mask']", "class_weights=sqrt_inverse", "sampler=weighted", "sampler_target=age"],
    ["trainer=attribute", "task=age", "mix=mixup", "loss=f1", "resize=crop"],
])
def test_imbalance_and_regularisation_knobs_train_every_trainer_kind(knobs, tiny_overrides, tiny_data, tmp_path):
    best = train.main(_sets(tiny_overrides + knobs))
    assert 0 <= best["val_f1"] <= 1 and best["train_loss"] == best["train_loss"]  # finite, not NaN
    (run,) = (tmp_path / "runs").iterdir()
    _check_submission(run, tiny_data, tmp_path)


def test_validation_never_sees_mixed_batches(tiny_cfg):
    from trainer import get_trainer

    trainer = get_trainer("single")(tiny_cfg.replace(mix="cutmix", mix_prob=1.0, epochs=2))
    calls = []
    mixer = trainer.mixer
    def spy(images, targets, epoch, step):
        calls.append(len(images))
        return mixer(images, targets, epoch, step)

    trainer.mixer = spy
    trainer.fit()
    train_table, _, _ = trainer.split_tables()
    assert sum(calls) == 2 * (len(train_table) // tiny_cfg.batch_size) * tiny_cfg.batch_size
