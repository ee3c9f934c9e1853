"""Pseudo-labelling rounds, label corrections and the label-noise audit."""
import json

import numpy as np
import pandas as pd
import pytest

import inference
import train
from base.errors import UserError
from data_loader import audit, pseudo_labels
from data_loader.corrections import apply
from data_loader.labels import OFFICIAL_AGE_THRESHOLDS, age_group, encode
from data_loader.layout import read_eval, read_train


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def test_select_keeps_confident_predictions_per_threshold_and_cap():
    probs = np.full((6, 18), 0.01)
    for i, (cls, top) in enumerate([(0, 0.95), (0, 0.92), (0, 0.5), (5, 0.99), (5, 0.91), (7, 0.7)]):
        probs[i, cls] = top
    ids = pd.Series([f"im{i}.jpg" for i in range(6)])
    assert pseudo_labels.select(ids, probs, 0.9)["ImageID"].tolist() == ["im3.jpg", "im0.jpg", "im1.jpg", "im4.jpg"]
    capped = pseudo_labels.select(ids, probs, 0.9, max_per_class=1)
    assert sorted(capped["ImageID"]) == ["im0.jpg", "im3.jpg"]
    per_class = [0.9] * 18
    per_class[7] = 0.6
    assert "im5.jpg" in pseudo_labels.select(ids, probs, per_class)["ImageID"].tolist()
    with pytest.raises(UserError, match="one number or 18"):
        pseudo_labels.select(ids, probs, [0.9, 0.9])


def test_pseudo_rounds_train_on_eval_images_never_validate_on_them(tiny_overrides, tiny_data, tmp_path):
    train.main(_sets(tiny_overrides + ["name=teacher"]))
    (teacher,) = (tmp_path / "runs").iterdir()
    row = train.main(_sets(tiny_overrides + [f"pseudo_from=[{str(teacher)!r}]", "pseudo_rounds=2",
                                             "pseudo_threshold=0.0", "name=student"]))
    group = next(p for p in (tmp_path / "runs").iterdir() if p.name.startswith("student"))
    eval_ids = set(read_eval(tiny_data)["ImageID"])
    for r in (1, 2):
        labels = pd.read_csv(group / f"round{r}" / "pseudo_labels.csv")
        assert set(labels["ImageID"]) == eval_ids  # threshold 0 keeps all 28
        assert labels["ans"].between(0, 17).all()
        split = pd.read_csv(group / f"round{r}" / "split.csv", dtype={"person": str})
        assert not split["person"].str.startswith("eval:").any()  # never in any split, so never validated
    assert "196 train / 84 val" in (group / "round1" / "train.log").read_text()  # 168 train images + 28 pseudo
    assert 0 <= row["val_f1"] <= 1
    inference.main(["--run", str(group), "--out", str(tmp_path / "s.csv")])


def test_corrections_fix_labels_and_name_bad_lines(tiny_data, tmp_path, caplog):
    table = read_train(tiny_data)
    person = table["person"].iloc[0]
    fixes = tmp_path / "fix.csv"
    fixes.write_text(f"id,field,value,note\n{person},gender,{'male' if table['gender'].iloc[0] else 'female'},x\n"
                     f"{person},age,65,\n{person},mask,swap,\n")
    with caplog.at_level("INFO", logger="mask18"):
        fixed = read_train(tiny_data, corrections=fixes)
        read_train(tiny_data, corrections=fixes)  # read again by the same run: said once
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("corrections:")]
    assert said == [f"corrections: 3 row(s) of {fixes} applied to 1 person(s) (gender 1, age 1, mask 1)"]
    before, after = table[table["person"] == person], fixed[fixed["person"] == person]
    assert (after["gender"] == 1 - before["gender"].iloc[0]).all() and (after["age_group"] == 2).all()
    stems = after.set_index("stem")["mask"]
    assert stems["incorrect_mask"] == 2 and stems["normal"] == 1 and stems["mask1"] == 0
    assert table.drop(index=before.index).equals(fixed.drop(index=after.index))
    for body, message in [("id,field,value\n999999,age,3\n", "line 2: no training person with id '999999'"),
                          (f"id,field,value\n{person},age,old\n", "cannot set 'age' to 'old'"),
                          ("id,field\n1,2\n", "missing column(s) value")]:
        fixes.write_text(body)
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            apply(table, fixes)


def _oof(persons, thresholds=OFFICIAL_AGE_THRESHOLDS):
    """A synthetic OOF table: each person 7 pictures, probabilities of the chosen (m, g, a) cells;
    `label` in the training-label space of `thresholds`, as k-fold writes it."""
    rows = []
    stems = ["mask1", "mask2", "mask3", "mask4", "mask5", "incorrect_mask", "normal"]
    for pid, (gender, age, looks_gender, swapped, looks_age) in persons.items():
        for stem in stems:
            mask = {"incorrect_mask": 1, "normal": 2}.get(stem, 0)
            seen_mask = {1: 2, 2: 1}.get(mask, mask) if swapped else mask
            probs = np.full(18, 0.1 / 17)
            probs[6 * seen_mask + 3 * looks_gender + looks_age] = 0.9
            rows.append({"file": f"/d/{pid}_x/{stem}.jpg", "person": pid, "stem": stem, "fold": 0, "mask": mask,
                         "gender": gender, "age": age,
                         "label": encode(mask, gender, int(age_group(age, thresholds))),
                         "official_label": encode(mask, gender, int(age_group(age))),
                         **{f"p{c}": probs[c] for c in range(18)}})
    return pd.DataFrame(rows)


def test_audit_finds_swapped_genders_masks_and_ages():
    oof = _oof({"000001": (0, 25, 0, False, 0),   # clean
                "000002": (1, 40, 0, False, 1),   # labelled female, looks male
                "000003": (0, 22, 0, True, 0),    # incorrect_mask and normal swapped
                "000004": (0, 25, 0, False, 2)})  # labelled 25, looks >=60
    found = audit.suspects(oof)
    assert sorted(found[["id", "field", "value"]].values.tolist()) == [
        ["000002", "gender", "male"], ["000003", "mask", "swap"], ["000004", "age", ""]]
    assert found["confidence"].is_monotonic_decreasing and (found["confidence"] > 0.8).all()
    assert sorted(found["folder"]) == ["000002_x", "000003_x", "000004_x"]
    assert audit.suspects(oof, min_confidence=0.99).empty


def test_audit_command_writes_a_corrections_shaped_csv(tmp_path, capsys):
    _oof({"000002": (1, 40, 0, False, 1)}).to_csv(tmp_path / "oof.csv", index=False)
    audit.main([str(tmp_path)])
    written = pd.read_csv(tmp_path / "suspects.csv", dtype=str)
    assert list(written.columns[:3]) == ["id", "field", "value"] and written["id"].tolist() == ["000002"]
    assert "1 suspect label(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        audit.main([str(tmp_path / "nowhere")])


def _age_rows(found):
    return found.loc[found["field"] == "age", ["id", "evidence"]].values.tolist()


def test_audit_checks_ages_in_the_label_space_the_group_trained_in(tmp_path, capsys):
    """Under age_thresholds=(30, 58) a 58-year-old predicted >=60 is right, a 40-year-old is not."""
    persons = {"000058": (0, 58, 0, False, 2), "000040": (0, 40, 0, False, 2), "000059": (1, 59, 1, False, 2)}
    oof = _oof(persons, thresholds=(30, 58))
    (age_only,) = _age_rows(audit.suspects(oof, age_thresholds=(30, 58)))
    assert age_only[0] == "000040" and "age 40 labelled" in age_only[1]
    group = tmp_path / "kfold-x"
    group.mkdir()
    oof.to_csv(group / "oof.csv", index=False)
    (group / "config.json").write_text(json.dumps({"age_thresholds": [30, 58]}))
    assert [r[0] for r in _age_rows(audit.main([str(group)]))] == ["000040"]
    (group / "config.json").unlink()  # a bare oof.csv: its training-space label column decides
    assert [r[0] for r in _age_rows(audit.main([str(group / "oof.csv")]))] == ["000040"]
    assert "label column" in capsys.readouterr().out
    official = audit.suspects(oof.drop(columns=["label"]))  # nothing to go by: official groups
    assert sorted(r[0] for r in _age_rows(official)) == ["000040", "000058", "000059"]
