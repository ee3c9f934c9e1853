import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import base.base_trainer as base_trainer
from base import config as config_lib
from base.errors import UserError
from model.heads import head_probabilities
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


def test_loss_args_give_a_loss_its_own_arguments_and_refuse_misspelt_ones():
    logits, _, target = _batch()
    by_knob = build_loss("focal", "class", "softmax", CFG.replace(focal_gamma=3.0))
    by_args = build_loss("focal", "class", "softmax", CFG.replace(loss_args={"focal": {"gamma": 3.0}}))
    default = build_loss("focal", "class", "softmax", CFG)
    assert torch.equal(by_args(logits, target), by_knob(logits, target))
    assert not torch.equal(by_args(logits, target), default(logits, target))
    for given, words in [({"focal": {"gama": 3.0}}, "loss 'focal' takes no argument 'gama'; it takes gamma"),
                         ({"ce": {"weights": [1.0]}}, "loss 'ce' takes no argument 'weights'; it takes none")]:
        with pytest.raises(UserError, match=words):
            build_loss(list(given)[0], "class", "softmax", CFG.replace(loss_args=given))


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


def _f1_by_boolean_mask(logits, target, activation):
    """The F1 loss as first written: the mean of f1[counted] (a boolean index, a host sync on a GPU)."""
    p = logits.float().sigmoid() if activation == "sigmoid" else logits.float().softmax(1)
    if activation == "sigmoid":
        p = p / p.sum(dim=1, keepdim=True).clamp_min(1e-12)
    tp, fp, fn = (p * target).sum(0), (p * (1 - target)).sum(0), ((1 - p) * target).sum(0)
    f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-7)
    counted = (target.sum(0) > 0) | F.one_hot(p.argmax(1), p.shape[1]).bool().any(0)
    return 1 - f1[counted].mean()


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("n", [64, 5])  # 5 rows: most of the 18 classes are not counted
def test_f1_loss_and_its_gradient_match_the_boolean_mask_mean(activation, n):
    f1 = build_loss("f1", "class", activation, CFG)
    for seed in range(3):
        logits, _, target = _batch(n=n, seed=seed)
        mixed = 0.7 * target + 0.3 * target.roll(1, 0)  # a CutMix-like soft row
        for goal in (target, mixed):
            ours, old = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
            value, expected = f1(ours, goal), _f1_by_boolean_mask(old, goal, activation)
            assert torch.allclose(value, expected, atol=1e-6, rtol=0)
            value.backward()
            expected.backward()
            assert torch.allclose(ours.grad, old.grad, atol=1e-7, rtol=1e-5)


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
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    right = 10 * F.one_hot(labels, 3).float()
    weighted = build_loss("ce", "age", "softmax", CFG.replace(class_weights="inverse"), torch.tensor([60, 30, 10]))
    cost = []
    for i in (0, 4):  # a common picture or a rare one predicted as class 1
        wrong = right.clone()
        wrong[i] = 10 * F.one_hot(torch.tensor(1), 3).float()
        cost.append(weighted(wrong, right / 10) - weighted(right, right / 10))
    assert cost[1] > 3 * cost[0]


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


WEIGHTED = [("ce", "softmax"), ("label_smoothing", "softmax"), ("focal", "softmax"),
            ("ce", "sigmoid"), ("label_smoothing", "sigmoid"), ("focal", "sigmoid"), ("bce", "sigmoid")]
COUNTS = torch.tensor([600, 350, 50])


def _age_loss(name, activation, weights="inverse"):
    return build_loss(name, "age", activation, CFG.replace(class_weights=weights), COUNTS)


def _mixed_batch(n=48, seed=1):
    """3-class logits with one-hot and CutMix-like mixed targets (half of the rows)."""
    logits, _, target = _batch(n, 3, seed)
    share = torch.rand(n // 2, 1, generator=torch.Generator().manual_seed(seed))
    target[: n // 2] = share * target[: n // 2] + (1 - share) * target[n // 2:]
    return logits, target


@pytest.mark.parametrize("name, activation", WEIGHTED)
def test_inverse_weights_move_fitted_priors_towards_uniform(name, activation):
    """A bias-only model on 600/350/50 labels: inverse weights must balance a sigmoid head as
    they balance a softmax one (unweighted, both settle on the base rates 0.6/0.35/0.05)."""
    target = F.one_hot(torch.repeat_interleave(torch.arange(3), COUNTS), 3).float()
    bias = torch.zeros(3, requires_grad=True)
    loss = _age_loss(name, activation)
    opt = torch.optim.LBFGS([bias], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def step():
        opt.zero_grad()
        value = loss(bias.expand(len(target), 3), target)
        value.backward()
        return value

    opt.step(step)
    scores = head_probabilities(bias.detach()[None], activation)[0]
    assert scores[2] > 0.3 and (scores - 1 / 3).abs().max() < 0.02, scores.tolist()


@pytest.mark.parametrize("name, activation", WEIGHTED)
def test_weighted_loss_is_a_weighted_mean(name, activation):
    logits, target = _mixed_batch()
    weighted = _age_loss(name, activation, {"age": [0.5, 1.0, 4.0]})(logits, target)
    assert torch.allclose(_age_loss(name, activation, {"age": [5.0, 10.0, 40.0]})(logits, target), weighted)
    plain = _age_loss(name, activation, "none")(logits, target)
    assert torch.allclose(_age_loss(name, activation, {"age": [3.0, 3.0, 3.0]})(logits, target), plain)


def test_weighted_ce_matches_torch_on_one_hot_targets():
    logits, labels, target = _batch(c=3)
    weights = class_weights(COUNTS, "inverse", "age")
    assert torch.allclose(_age_loss("ce", "softmax")(logits, target),
                          F.cross_entropy(logits, labels, weight=weights), atol=1e-6)


@pytest.mark.parametrize("name, activation", WEIGHTED)
def test_weighted_sampler_batches_keep_the_loss_scale(name, activation):
    """A batch drawn by sampler="weighted" (every class equally often, so the rare class's big
    weight dominates the per-sample average) must not blow the loss up several-fold."""
    labels = torch.arange(60) % 3
    logits = torch.randn(60, 3, generator=torch.Generator().manual_seed(2))
    target = F.one_hot(labels, 3).float()
    ratio = _age_loss(name, activation)(logits, target) / _age_loss(name, activation, "none")(logits, target)
    assert 0.67 < ratio < 1.5, float(ratio)
