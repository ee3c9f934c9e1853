"""Person-grouped, stratified folds: all seven pictures of a person land in one fold.

Splitting images instead of persons leaks: the model meets the same face in training and
validation and the validation F1 flatters it. Every person has the same mask mix (5 worn,
1 incorrect, 1 none), so stratifying persons by gender x age group stratifies the images by
all 18 classes; scikit-learn's StratifiedKFold on the person table does it exactly.

The strata are the labels as train.csv lists them, in the official 30/60 age groups, before any
correction: the folds are a function of the persons, `folds` and `seed` alone. Stratifying by the
training labels instead would reshuffle nearly every person whenever `age_thresholds` or
`corrections` change, so two such runs would be validated on different persons and could not be
compared or ensembled (and a pseudo-label teacher would have trained on its student's
validation persons).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from base.errors import UserError
from data_loader.layout import data_root, read_train
from data_loader.verify import check_images


def person_folds(table: pd.DataFrame, folds: int, seed: int) -> pd.Series:
    """person -> fold index in 0..folds-1, stratified by the person's listed gender and official
    age group (`listed_gender`, `listed_age_group`; a table without them: `gender`, `age_group`)."""
    columns = ["listed_gender", "listed_age_group"] if "listed_gender" in table else ["gender", "age_group"]
    persons = table.groupby("person", sort=True)[columns].first()
    if len(persons) < folds:
        raise UserError(f"only {len(persons)} persons for folds={folds}; lower folds or add data")
    strata = persons[columns[0]].to_numpy() * 3 + persons[columns[1]].to_numpy()
    fold_of = np.empty(len(persons), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a rare stratum smaller than `folds` is fine: it spreads thin
        warnings.simplefilter("ignore", UserWarning)
        for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(persons)), strata)):
            fold_of[held_out] = k
    return pd.Series(fold_of, index=persons.index, name="fold")


def split(table: pd.DataFrame, fold_of: pd.Series, fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train rows, validation rows): the persons that `fold_of` puts in `fold` are held out."""
    held_out = (table["person"].map(fold_of) == fold).to_numpy()
    return table[~held_out].reset_index(drop=True), table[held_out].reset_index(drop=True)


def load_table(cfg) -> tuple[pd.DataFrame, pd.Series]:
    """The configured training data (labels corrected, every image decoding) and person -> fold."""
    table = read_train(data_root(cfg), cfg.age_thresholds, cfg.corrections)
    table = check_images(table, "training", cfg.skip_bad_images)
    return table, person_folds(table, cfg.folds, cfg.seed)


def load_split(cfg) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """The configured data's (train rows, validation rows, person -> fold)."""
    table, folds = load_table(cfg)
    return (*split(table, folds, cfg.fold), folds)
