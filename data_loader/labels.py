"""The competition's label coding, in one place.

class = 6 * mask + 3 * gender + age_group, with
mask 0 wear / 1 incorrect / 2 not worn, gender 0 male / 1 female,
age_group 0 `<30` / 1 `30-59` / 2 `>=60`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NUM_CLASSES = 18
HEAD_SIZES = {"mask": 3, "gender": 2, "age": 3}
OFFICIAL_AGE_THRESHOLDS = (30, 60)

MASK_STEMS = {
    "mask1": 0, "mask2": 0, "mask3": 0, "mask4": 0, "mask5": 0,
    "incorrect_mask": 1,
    "normal": 2,
}
GENDERS = {"male": 0, "female": 1}
MASK_NAMES = ("wear", "incorrect", "not worn")
GENDER_NAMES = ("male", "female")
AGE_NAMES = ("<30", "30-59", ">=60")


def age_group(age, thresholds: Sequence[int] = OFFICIAL_AGE_THRESHOLDS):
    """Age group 0/1/2 of an age (int or array): `age >= thresholds[0]` is 1, `>= thresholds[1]` is 2.

    Training may move the boundaries (e.g. 58 makes 58- and 59-year-olds "old"); submissions
    always use OFFICIAL_AGE_THRESHOLDS.
    """
    young, old = thresholds
    return (np.asarray(age) >= young).astype(np.int64) + (np.asarray(age) >= old).astype(np.int64)


def encode(mask, gender, age_grp):
    """18-class label from its three parts (ints, numpy arrays or torch tensors)."""
    return 6 * mask + 3 * gender + age_grp


def decode(label):
    """(mask, gender, age_group) of an 18-class label (int, numpy array or torch tensor)."""
    return label // 6, (label // 3) % 2, label % 3


def class_name(label: int) -> str:
    m, g, a = decode(int(label))
    return f"{MASK_NAMES[m]}/{GENDER_NAMES[g]}/{AGE_NAMES[a]}"
