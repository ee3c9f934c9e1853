"""The exact-age target: an age head over years, summed into the three groups."""
import numpy as np
import pytest
import torch

from base import config as config_lib
from base.errors import UserError
from data_loader.labels import age_group, decode
from model.age_years import AGE_YEARS, group_probabilities, year_groups, year_rows, year_weights
from model.heads import head_specs, head_targets
from trainer import get_trainer


def test_each_row_is_a_distribution_around_the_age_or_over_the_group():
    ages, groups = torch.tensor([25, 61, 0, 120, -1, -1]), torch.tensor([0, 2, 0, 2, 1, 2])
    rows = year_rows(ages, groups, 2.0, (30, 58))
    assert rows.shape == (6, AGE_YEARS) and torch.allclose(rows.sum(1), torch.ones(6))
    assert rows[:4].argmax(1).tolist() == [25, 61, 0, 120]
    assert rows[0, 24] == rows[0, 26] < rows[0, 25]  # symmetric around the age
    middle = rows[4]  # no age, group 30..57: even over exactly those years
    assert torch.allclose(middle[30:58], torch.full((28,), 1 / 28)) and middle[:30].sum() == middle[58:].sum() == 0
    assert torch.allclose(rows[5][58:], torch.full((AGE_YEARS - 58,), 1 / (AGE_YEARS - 58)))


def test_groups_are_the_sums_of_their_years_at_the_thresholds():
    probs = torch.rand(50, AGE_YEARS).softmax(1)
    groups = group_probabilities(probs, (30, 58))
    assert torch.allclose(groups[:, 2], probs[:, 58:].sum(1)) and torch.allclose(groups[:, 0], probs[:, :30].sum(1))
    assert year_groups((30, 60))[[29, 30, 59, 60]].tolist() == [0, 1, 1, 2]
    for thresholds in ((30, 60), (30, 58), (25, 45)):  # the layout's rule, every year
        assert year_groups(thresholds).tolist() == age_group(np.arange(AGE_YEARS), thresholds).tolist()


@pytest.mark.parametrize("thresholds", ["30,60", "30,58"])
def test_the_18_class_table_sums_to_one_and_its_argmax_is_the_group_decision(thresholds, tiny_overrides):
    cfg = config_lib.load(overrides=[*tiny_overrides, "trainer=multihead", "age_target=years",
                                     f"age_thresholds={thresholds}"])
    trainer = get_trainer("multihead")(cfg)
    assert trainer.heads == {"mask": 3, "gender": 2, "age": AGE_YEARS}
    g = torch.Generator().manual_seed(0)
    outputs = {h: torch.randn(400, n, generator=g) * 3 for h, n in trainer.heads.items()}
    probs = trainer.probabilities(outputs)
    assert probs.shape == (400, 18) and torch.allclose(probs.sum(1), torch.ones(400), atol=1e-5)
    groups = group_probabilities(outputs["age"].softmax(1), tuple(map(int, thresholds.split(","))))
    assert torch.equal(decode(probs.argmax(1))[2], groups.argmax(1))
    assert torch.allclose(probs.reshape(-1, 6, 3).sum(1), groups, atol=1e-5)


def test_class_weights_stay_per_group():
    """A year weighs its group's weight; a person weighs the mean of that over their distribution."""
    cfg = config_lib.load(overrides=["trainer=multihead", "age_target=years", "class_weights={'age': [1, 1, 4]}"])
    spec = head_specs(cfg, {"age": AGE_YEARS}, {"age": torch.tensor([10, 10, 10])})["age"]
    targets = torch.tensor([[0, 0, 0, 25], [0, 0, 2, 61]])
    rows = head_targets(targets, {"age": spec})["age"]
    logits = torch.randn(2, AGE_YEARS)
    per_sample = -(rows * logits.log_softmax(1)).sum(1)
    weights = rows @ year_weights(torch.tensor([1.0, 1.0, 4.0]), (30, 60))
    assert weights[0] == pytest.approx(1) and 3 < weights[1] < 4  # 61 +- 2 years reaches into 58-59
    expected = (weights * per_sample).sum() / weights.sum()
    assert torch.allclose(spec.loss(logits, rows), expected, atol=1e-5)


@pytest.mark.parametrize("overrides, message", [
    (["trainer=single", "age_target=years"], "'age_target' = 'years' needs an age head"),
    (["trainer=multihead", "age_target=years", "sigmoid_heads=['age']"], "needs a softmax and a loss other than 'f1'"),
    (["trainer=multihead", "age_target=years", "head_loss={'age': {'ce': 0.5, 'f1': 0.5}}"], "other than 'f1'"),
    (["age_sigma=0"], "age_sigma"),
])
def test_impossible_years_settings_fail_at_start_up(overrides, message, tiny_overrides):
    with pytest.raises(UserError) as err:
        cfg = config_lib.load(overrides=[*tiny_overrides, *overrides])
        get_trainer(cfg.trainer)(cfg)
    assert message in str(err.value)
