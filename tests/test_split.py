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


def _folds_with(tiny_cfg, **knobs):
    from data_loader.split import load_table

    return load_table(tiny_cfg.replace(**knobs))[1]


def test_label_knobs_never_move_a_person_between_train_and_validation(tiny_cfg, tiny_data, tmp_path):
    """The folds are a function of the persons, folds and seed: neither the training age groups
    nor label corrections reshuffle them, so runs that differ there are validated on the same persons."""
    table = read_train(tiny_data)
    persons = table.groupby("person")["gender"].first()
    fixes = tmp_path / "fixes.csv"  # flip the gender of a third of the persons, age others up
    lines = [f"{p},gender,{'male' if g else 'female'}" for p, g in persons.iloc[::3].items()]
    lines += [f"{p},age,{70}" for p in persons.index[1::4]]
    fixes.write_text("id,field,value\n" + "\n".join(lines) + "\n")
    official = _folds_with(tiny_cfg)
    for knobs in ({"age_thresholds": (30, 58)}, {"age_thresholds": (20, 40)}, {"age_thresholds": (45, 50)},
                  {"corrections": str(fixes)}, {"corrections": str(fixes), "age_thresholds": (25, 58)}):
        assert _folds_with(tiny_cfg, **knobs).equals(official), knobs
    assert not _folds_with(tiny_cfg, seed=tiny_cfg.seed + 1).equals(official)  # the seed still decides


def test_runs_with_other_age_groups_share_split_csv_and_ensemble(tiny_overrides, tmp_path):
    """configs/best.py (58- and 59-year-olds trained as >=60) and config.py are validated on the same
    persons: the same split.csv, and inference.py --evaluate ensembles them."""
    import inference
    import train

    sets = [a for o in tiny_overrides for a in ("--set", o)]
    train.main(sets + ["--set", "name=plain"])
    train.main(["--config", "configs/best.py"] + sets + ["--set", "tta=[]"])
    plain, best = (next((tmp_path / "runs").glob(f"{name}-*")) for name in ("plain", "best"))
    assert (plain / "split.csv").read_bytes() == (best / "split.csv").read_bytes()
    scores = inference.main(["--run", str(plain), "--run", str(best), "--evaluate"])
    assert scores  # refused before: "these runs were validated on different persons"
