import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import base.base_trainer as base_trainer
from base import config as config_lib
from model.loss import build_loss, class_weights
from trainer import get_trainer

CFG = config_lib.load()


def _batch(n=64, c=18, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * 2
    labels = torch.randint(0, c, (n,), generator=g)
    return logits, labels, F.one_hot(labels, c).float()


def test_focal_with_gamma_0_is_cross_entropy():
    logits, labels, target = _batch()
    focal = build_loss("focal", "class", "softmax", CFG.replace(focal_gamma=0.0))
    assert torch.allclose(focal(logits, target), F.cross_entropy(logits, labels), atol=1e-6)
    sigmoid_focal = build_loss("focal", "class", "sigmoid", CFG.replace(focal_gamma=0.0))
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1).mean()
    assert torch.allclose(sigmoid_focal(logits, target), bce, atol=1e-5)


def test_focal_down_weights_easy_examples():
    logits, _, target = _batch()
    ce, focal = build_loss("ce", "class", "softmax", CFG), build_loss("focal", "class", "softmax", CFG)
    assert focal(logits, target) < ce(logits, target)


def test_label_smoothing_0_is_cross_entropy_and_0_1_matches_torch():
    logits, labels, target = _batch()
    assert torch.allclose(build_loss("label_smoothing", "class", "softmax", CFG.replace(label_smoothing=0.0))(
        logits, target), F.cross_entropy(logits, labels), atol=1e-6)
    assert torch.allclose(build_loss("label_smoothing", "class", "softmax", CFG.replace(label_smoothing=0.1))(
        logits, target), F.cross_entropy(logits, labels, label_smoothing=0.1), atol=1e-6)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_f1_loss_prefers_better_predictions_and_is_zero_when_perfect(activation):
    f1 = build_loss("f1", "class", activation, CFG)
    logits, labels, target = _batch()
    better = logits + 3 * target  # push every row towards its label
    perfect = 40 * target - 20
    assert f1(better, target) < f1(logits, target)
    assert f1(perfect, target) < 1e-4
    logits.requires_grad_(True)
    f1(logits, target).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_weighted_combination_is_the_weighted_sum():
    logits, _, target = _batch()
    combo = build_loss({"ce": 0.3, "f1": 0.7}, "class", "softmax", CFG)
    parts = [build_loss(name, "class", "softmax", CFG)(logits, target) for name in ("ce", "f1")]
    assert torch.allclose(combo(logits, target), 0.3 * parts[0] + 0.7 * parts[1])


def test_class_weights_follow_counts_and_average_one():
    counts = torch.tensor([90, 9, 1])
    inverse = class_weights(counts, "inverse", "age")
    assert inverse[2] / inverse[0] == pytest.approx(90) and (inverse * counts).sum() / counts.sum() == pytest.approx(1)
    root = class_weights(counts, "sqrt_inverse", "age")
    assert root[2] / root[0] == pytest.approx(90 ** 0.5)
    assert class_weights(counts, {"age": [1, 2, 3]}, "age").tolist() == [1, 2, 3]
    assert class_weights(counts, {"mask": [1, 2, 3]}, "age") is None
    assert class_weights(counts, "none", "age") is None


def test_class_weights_make_rare_mistakes_cost_more():
    logits, labels, target = _batch(c=3)
    rare = labels == 2
    plain = build_loss("ce", "age", "softmax", CFG, torch.tensor([60, 30, 10]))
    weighted = build_loss("ce", "age", "softmax", CFG.replace(class_weights="inverse"), torch.tensor([60, 30, 10]))
    per_sample = lambda fn: torch.stack([fn(logits[i:i + 1], target[i:i + 1]) for i in range(len(labels))])  # noqa: E731
    assert (per_sample(weighted)[rare] > per_sample(plain)[rare]).all()


def test_class_weights_come_from_the_training_split_only(tiny_cfg, monkeypatch):
    seen = []
    real = base_trainer.class_counts
    def spy(targets, heads):
        seen.append(targets)
        return real(targets, heads)

    monkeypatch.setattr(base_trainer, "class_counts", spy)
    t = get_trainer("multihead")(tiny_cfg.replace(class_weights="inverse"))
    t.fit()
    split = pd.read_csv(t.run / "split.csv", dtype={"person": str})
    train_table, val_table, _ = t.split_tables()
    assert len(seen) == 1 and len(seen[0]) == len(train_table)
    expected = torch.as_tensor(train_table[["mask", "gender", "age_group"]].to_numpy())
    assert torch.equal(seen[0], expected)
    assert set(split.loc[split["role"] == "val", "person"]) == set(val_table["person"])
