import numpy as np
import pandas as pd

from data_loader.layout import read_train
from data_loader.split import person_folds, split


def _table(persons=300, seed=0):
    """A synthetic image table: 7 rows a person with competition-like shares."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(persons):
        gender, group = int(rng.random() < 0.6), int(rng.choice(3, p=(0.47, 0.46, 0.07)))
        for mask in (0, 0, 0, 0, 0, 1, 2):
            rows.append({"person": f"{p:06d}", "mask": mask, "gender": gender, "age_group": group,
                         "label": 6 * mask + 3 * gender + group})
    return pd.DataFrame(rows)


def test_no_person_on_both_sides_and_every_person_once():
    table = _table()
    folds = person_folds(table, 5, seed=1)
    seen = set()
    for k in range(5):
        train, val = split(table, folds, k)
        assert not set(train["person"]) & set(val["person"])
        assert len(train) + len(val) == len(table)
        assert not seen & set(val["person"])
        seen |= set(val["person"])
    assert seen == set(table["person"])


def test_folds_are_stratified_by_class():
    table = _table()
    folds = person_folds(table, 5, seed=1)
    whole = table["label"].value_counts(normalize=True)
    for k in range(5):
        _, val = split(table, folds, k)
        shares = val["label"].value_counts(normalize=True).reindex(whole.index, fill_value=0)
        assert (shares - whole).abs().max() < 0.02
        assert val["person"].nunique() in (60, 61, 59)


def test_split_depends_on_the_seed_only(tiny_data):
    table = read_train(tiny_data)
    a, b = person_folds(table, 3, seed=5), person_folds(table, 3, seed=5)
    assert a.equals(b)
    assert not a.equals(person_folds(table, 3, seed=6))
