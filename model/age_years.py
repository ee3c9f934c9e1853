"""The exact-age target (`age_target = "years"`): an age head that learns a distribution over years.

train.csv gives every person's age in years; the three age groups throw that away and leave the
model to guess where 30 and 60 lie. With this target the age head has one output per year
0..AGE_MAX and learns a label distribution (DLDL, Gao et al. 2017): a Gaussian of width
`age_sigma` years around the person's age, so neighbouring years share evidence and a 29-year-old
teaches the model about 30 as well. Its softmax is summed into the three groups at the config's
`age_thresholds` (P(<t0), P(t0..t1-1), P(>=t1)), so everything downstream (metrics, offsets,
ensembles, the person vote) still receives (N, 18) probabilities, and `age_thresholds` keeps its
meaning: where the model's groups split (best_pretrained.py's (30, 58) leans toward `>=60` as it
does for the class target).

Rows with no age (pseudo-labelled eval images have only a group) spread evenly over their
group's years. Class weights stay per group: a year weighs its group's weight, so a person weighs
the mean of that over their distribution: at sigma 2 and threshold 60, 78% of a 61-year-old's
distribution and 60% of a 60-year-old's lie in `>=60`, and their weights blend so.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

AGE_MAX = 120  # the layout accepts ages 0..120
AGE_YEARS = AGE_MAX + 1


def year_groups(thresholds: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """(AGE_YEARS,) age group 0/1/2 of every year at `thresholds`: data_loader.labels.age_group's
    rule, made on `device` itself, so a training step copies nothing from the host (which would
    make it wait for the device, see base/epoch_progress.py)."""
    years = torch.arange(AGE_YEARS, device=device)
    return (years >= thresholds[0]).long() + (years >= thresholds[1]).long()


def group_probabilities(year_probs: torch.Tensor, thresholds: Sequence[int]) -> torch.Tensor:
    """(N, 3) age-group probabilities from (N, AGE_YEARS) probabilities over years."""
    groups = torch.nn.functional.one_hot(year_groups(thresholds, year_probs.device), 3).to(year_probs.dtype)
    return year_probs @ groups


def year_rows(ages: torch.Tensor, groups: torch.Tensor, sigma: float, thresholds: Sequence[int]) -> torch.Tensor:
    """(N, AGE_YEARS) training rows: a Gaussian over the years around each age, summing to one;
    a row whose age is unknown (negative) is uniform over its group's years."""
    years = torch.arange(AGE_YEARS, device=ages.device, dtype=torch.float32)
    known = ages >= 0
    centre = ages.clamp(0, AGE_MAX).float()[:, None]
    gaussian = torch.exp(-0.5 * ((years - centre) / sigma) ** 2)
    in_group = (year_groups(thresholds, ages.device) == groups[:, None]).float()
    rows = torch.where(known[:, None], gaussian, in_group)
    return rows / rows.sum(1, keepdim=True)


def year_weights(group_weights: torch.Tensor, thresholds: Sequence[int]) -> torch.Tensor:
    """(AGE_YEARS,) class weights of the years: each year its group's weight."""
    return group_weights[year_groups(thresholds, group_weights.device)]
