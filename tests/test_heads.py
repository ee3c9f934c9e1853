import numpy as np
import pandas as pd
import pytest
import torch

from base import config as config_lib
from base.errors import UserError
from data_loader.layout import add_labels
from model.heads import attribute_only, combine_attributes, head_probabilities, head_specs, head_targets
from predict.predictor import combine_probabilities


def _random_heads(n=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, k, generator=g) * 3 for k in (3, 2, 3)]


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_argmax_of_the_product_is_the_three_argmaxes(activation):
    logits = _random_heads()
    probs = [head_probabilities(x, activation) for x in logits]
    joint = combine_attributes(*probs)
    m, g, a = (x.argmax(1) for x in logits)
    assert torch.equal(joint.argmax(1), 6 * m + 3 * g + a)
    assert torch.allclose(joint.sum(1), torch.ones(len(joint)), atol=1e-5)


def test_product_marginals_are_the_heads():
    probs = [x.softmax(1) for x in _random_heads()]
    joint = combine_attributes(*probs).reshape(-1, 3, 2, 3)
    assert torch.allclose(joint.sum((2, 3)), probs[0], atol=1e-6)
    assert torch.allclose(joint.sum((1, 3)), probs[1], atol=1e-6)
    assert torch.allclose(joint.sum((1, 2)), probs[2], atol=1e-6)


def test_three_attribute_models_combine_into_the_multi_head_table():
    probs = [x.softmax(1) for x in _random_heads()]
    alone = [attribute_only(p, name).numpy() for p, name in zip(probs, ("mask", "gender", "age"), strict=True)]
    assert np.allclose(combine_probabilities(alone, "product"), combine_attributes(*probs).numpy(), atol=1e-6)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_probabilities_lie_in_0_1_and_rank_like_the_logits(activation):
    logits = torch.randn(200, 18) * 4
    probs = head_probabilities(logits, activation)
    assert probs.min() >= 0 and probs.max() <= 1
    assert torch.equal(probs.argsort(1), logits.argsort(1))


def test_sigmoid_head_trains_with_binary_cross_entropy():
    cfg = config_lib.load(overrides=["sigmoid_heads=['class']"])
    (spec,) = head_specs(cfg, {"class": 18}).values()
    logits, labels = torch.randn(8, 18), torch.randint(0, 18, (8,))
    target = torch.nn.functional.one_hot(labels, 18).float()
    expected = -(target * logits.sigmoid().log() + (1 - target) * (1 - logits.sigmoid()).log()).sum(1).mean()
    assert spec.activation == "sigmoid" and torch.allclose(spec.loss(logits, target), expected, atol=1e-5)


def test_one_hot_targets_per_head():
    targets = torch.tensor([[2, 1, 0, 25], [0, 0, 2, 61]])
    cfg = config_lib.load(overrides=["trainer=multihead"])
    out = head_targets(targets, {**head_specs(config_lib.load(), {"class": 18}), **head_specs(cfg, {"gender": 2})})
    assert out["class"].argmax(1).tolist() == [15, 2] and out["gender"].argmax(1).tolist() == [1, 0]


@pytest.mark.parametrize("overrides, heads, message", [
    (["sigmoid_heads=['age']"], {"class": 18}, "names 'age', not a head of the 'single' trainer"),
    (["head_loss={'class': 'ce'}"], {"mask": 3}, "names 'class', not a head"),
    (["loss=dice"], {"class": 18}, "unknown loss 'dice'; known: bce, ce, f1, focal, label_smoothing"),
    (["loss=bce"], {"class": 18},
     "loss 'bce' works on sigmoid heads only, but head 'class' is a softmax head; add 'class' to sigmoid_heads"),
])
def test_bad_head_knobs_fail_at_start_up(overrides, heads, message):
    with pytest.raises(UserError) as err:
        head_specs(config_lib.load(overrides=overrides), heads)
    assert message in str(err.value)


def test_age_thresholds_move_exactly_the_people_between_them():
    ages = np.arange(18, 71)
    table = pd.DataFrame({"age": ages, "mask": 0, "gender": 1})
    official, moved = add_labels(table, (30, 60)), add_labels(table, (30, 58))
    changed = ages[(official["label"] != moved["label"]).to_numpy()]
    assert changed.tolist() == [58, 59]
    assert (moved.loc[moved["age"].isin([58, 59]), "age_group"] == 2).all()
    assert official["official_label"].equals(moved["official_label"])  # scoring never moves
    assert official["label"].equals(official["official_label"])
