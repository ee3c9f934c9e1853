"""k-fold groups: every training image predicted once out of fold, resumable fold by fold."""
import pandas as pd
import pytest

import inference
import train
from data_loader.layout import read_train
from model.metric import validation_metrics


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def test_kfold_trains_every_fold_and_scores_out_of_fold(tiny_overrides, tiny_data, tmp_path, capsys):
    row = train.main(_sets(tiny_overrides + ["kfold=True"]))
    (group,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in group.glob("fold*")) == ["fold0", "fold1", "fold2"]
    oof = pd.read_csv(group / "oof.csv", dtype={"person": str})
    table = read_train(tiny_data)
    assert sorted(oof["file"]) == sorted(table["file"])  # every training image exactly once
    for k in range(3):
        split = pd.read_csv(group / f"fold{k}" / "split.csv", dtype={"person": str})
        assert set(oof.loc[oof["fold"] == k, "person"]) == set(split.loc[split["role"] == "val", "person"])
    probs = oof[[f"p{c}" for c in range(18)]].to_numpy()
    assert row["val_f1"] == pytest.approx(validation_metrics(probs, oof)["val_f1"])
    assert pd.read_csv(group / "metrics.csv")["val_f1"].iloc[0] == pytest.approx(row["val_f1"])
    capsys.readouterr()
    result = inference.main(["--run", str(group), "--evaluate"])  # the evaluate mode scores OOF too
    assert result["no TTA"]["val_f1"] == pytest.approx(row["val_f1"])
    inference.main(["--run", str(group), "--out", str(tmp_path / "sub.csv")])
    assert len(pd.read_csv(tmp_path / "sub.csv")) == 28

    # A plain run of one fold beside the group (README's ensemble): scored and decided on the persons
    # both held out, that fold's, and the log says how many.
    train.main(_sets(tiny_overrides + ["fold=1", "name='plain'"]))
    plain = next((tmp_path / "runs").glob("plain-*"))
    persons = set(pd.read_csv(plain / "split.csv", dtype={"person": str}).query("role == 'val'")["person"])
    pictures = int(oof["person"].isin(persons).sum())
    capsys.readouterr()
    both = inference.main(["--run", str(group), "--run", str(plain), "--evaluate", "--offsets", "head"])
    err = capsys.readouterr().err
    assert f"validation: {pictures} pictures of {len(persons)} persons were held out by every run" in err
    assert both["no TTA"]["val_f1"] > 0 and "offsets" in both["no TTA"]
    inference.main(["--run", str(group), "--run", str(plain), "--out", str(tmp_path / "both.csv")])
    assert "share no validation persons" not in capsys.readouterr().err


def test_selected_folds_then_resume_fills_in_the_rest(tiny_overrides, tmp_path):
    first = train.main(_sets(tiny_overrides + ["kfold=True", "kfold_folds=[1]"]))
    (group,) = (tmp_path / "runs").iterdir()
    assert [p.name for p in group.glob("fold*")] == ["fold1"]
    assert set(pd.read_csv(group / "oof.csv")["fold"]) == {1}
    stamp = (group / "fold1" / "last.pt").stat().st_mtime_ns
    second = train.main(["--resume", str(group), "--set", "kfold_folds=[]"])
    assert sorted(p.name for p in group.glob("fold*")) == ["fold0", "fold1", "fold2"]
    assert (group / "fold1" / "last.pt").stat().st_mtime_ns == stamp  # the finished fold was not retrained
    assert set(pd.read_csv(group / "oof.csv")["fold"]) == {0, 1, 2}
    assert first["val_f1"] != second["val_f1"]


def test_bad_fold_selection_is_refused(tiny_overrides, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(_sets(tiny_overrides + ["kfold=True", "kfold_folds=[3]"]))
    assert "'kfold_folds': [3] outside 0..2" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
