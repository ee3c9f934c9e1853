"""The person vote: the pictures of one person share a gender and an age, so decide them together.

    vote(probs, groups, assign, strength)   (N, 18) probabilities -> (N, 18) probabilities after the vote

Any model's (N, 18) probabilities (one head, three heads, separate models, ensembles, TTA, k-fold
groups: all hand over the same table) are split into P(mask) and P(gender, age) per picture.
Inside a group of two or more, gender and age come from the group's combined evidence, the
normalised mean of its pictures' log P(gender, age) (a product of experts: one sure picture
outweighs several unsure ones), and the mask stays each picture's own P(mask); the picture's row
becomes P(mask) x Q(gender, age), so every picture of a group gets the group's gender and age.
A group of one keeps its row as it was. `strength` softens the vote, and the guard
(predict/vote_guard.py) fits it on validation: each picture's log P(gender, age) becomes
(1 - strength) x its own + strength x its group's, so 0 is no vote and 1 the group's alone, and in
between a picture that is sure of a rare class (`>=60`) keeps it against a group that leans the
other way, which macro F1 rewards. With `assign`, a group of exactly seven pictures also
gets the sitting's masks, five worn, one incorrect, one none, by the assignment of the seven
pictures to those seven slots that is most probable (scipy's linear_sum_assignment on
-log P(mask)); a group of any other size keeps each picture's own mask. The result is again
(N, 18) probabilities, so argmax, metrics and submission writing need nothing new.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

SITTING = np.array([0, 0, 0, 0, 0, 1, 2])  # one person's seven masks: five worn, one incorrect, one none


def split(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 18) -> P(mask) (N, 3) and P(gender, age) (N, 6); class = 6 * mask + 3 * gender + age."""
    cube = np.asarray(probs, np.float64).reshape(-1, 3, 6)
    return cube.sum(2), cube.sum(1)


def vote(probs: np.ndarray, groups: np.ndarray, assign: bool = False, strength: float = 1.0) -> np.ndarray:
    """(N, 18) probabilities with gender and age voted inside each group (and, with `assign`,
    the masks of each group of seven assigned 5/1/1); `strength` 0 changes nothing (module doc)."""
    probs = np.asarray(probs, np.float64)
    if strength <= 0:
        return probs.copy()
    mask, person = split(probs)
    log_person = np.log(np.clip(person, 1e-12, None))
    _, inverse, sizes = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    mean = np.zeros((len(sizes), 6))
    np.add.at(mean, inverse, log_person)
    mean /= sizes[:, None]
    mixed = (1 - strength) * log_person + strength * mean[inverse]
    shared = np.exp(mixed - mixed.max(1, keepdims=True))
    shared /= shared.sum(1, keepdims=True)
    if assign:
        mask = mask.copy()
        for g in np.flatnonzero(sizes == len(SITTING)):
            members = np.flatnonzero(inverse == g)
            mask[members] = np.eye(3)[assign_masks(mask[members])]
    out = (mask[:, :, None] * shared[:, None, :]).reshape(-1, 18)
    alone = sizes[inverse] == 1
    out[alone] = probs[alone]
    return out


def assign_masks(mask_probs: np.ndarray) -> np.ndarray:
    """The masks of one sitting's seven pictures, 5 worn / 1 incorrect / 1 none, most probable
    jointly: each picture gets one slot of SITTING."""
    cost = -np.log(np.clip(mask_probs[:, SITTING], 1e-12, None))  # picture x slot
    rows, cols = linear_sum_assignment(cost)
    out = np.empty(len(mask_probs), np.int64)
    out[rows] = SITTING[cols]
    return out


def changed(before: np.ndarray, after: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """(pictures the vote made right, pictures it made wrong) in gender and age together."""
    truth = np.asarray(labels) % 6
    old, new = np.asarray(before).argmax(1) % 6, np.asarray(after).argmax(1) % 6
    return int(((old != truth) & (new == truth)).sum()), int(((old == truth) & (new != truth)).sum())
