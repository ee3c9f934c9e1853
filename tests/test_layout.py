import os
import shutil

import pandas as pd
import pytest

from base.errors import UserError
from data_loader.labels import encode
from data_loader.layout import read_eval, read_train


def test_one_row_per_image_with_labels_from_the_folder_name(tiny_data):
    table = read_train(tiny_data)
    persons = pd.read_csv(tiny_data / "train" / "train.csv", dtype=str)
    assert len(table) == 7 * len(persons)
    assert table.groupby("person").size().eq(7).all()
    row = table[(table["stem"] == "incorrect_mask")].iloc[0]
    gender, _, age = row["folder"].split("_")[1:]
    assert row["mask"] == 1 and row["gender"] == (gender == "female") and row["age"] == int(age)
    assert (table["label"] == encode(table["mask"], table["gender"], table["age_group"])).all()
    assert all(os.path.isfile(f) for f in table["file"])


def test_hidden_files_are_ignored(data_copy):
    folder = next((data_copy / "train" / "images").iterdir())
    (folder / "._mask1.jpg").write_bytes(b"AppleDouble junk")
    assert len(read_train(data_copy)) == 7 * 36


def test_eval_rows_keep_info_csv_order(tiny_data):
    table = read_eval(tiny_data)
    assert table["ImageID"].tolist() == pd.read_csv(tiny_data / "eval" / "info.csv")["ImageID"].tolist()


def _first_person(root):
    persons = pd.read_csv(root / "train" / "train.csv", dtype=str)
    return persons, root / "train" / "images" / persons.loc[0, "path"]


def _break(root, how):
    persons, folder = _first_person(root)
    csv = root / "train" / "train.csv"
    if how == "no train.csv":
        csv.unlink()
    elif how == "no age column":
        persons.drop(columns="age").to_csv(csv, index=False)
    elif how == "bad gender":
        persons.loc[0, "gender"] = "f"
        persons.to_csv(csv, index=False)
    elif how == "bad age":
        persons.loc[0, "age"] = "forty"
        persons.to_csv(csv, index=False)
    elif how == "path mismatch":
        persons.loc[0, "path"] = persons.loc[1, "path"]
        persons.to_csv(csv, index=False)
    elif how == "no folder":
        shutil.rmtree(folder)
    elif how == "missing image":
        next(folder.glob("normal.*")).unlink()
    elif how == "two files one stem":
        src = next(folder.glob("mask2.*"))
        shutil.copy(src, folder / ("mask2" + (".jpg" if src.suffix == ".png" else ".png")))
    elif how == "unknown file":
        (folder / "notes.txt").write_text("hi")
    elif how == "same person twice":
        pd.concat([persons, persons.iloc[[0]]]).to_csv(csv, index=False)


@pytest.mark.parametrize("how, message", [
    ("no train.csv", "train.csv not found"),
    ("no age column", "missing column(s) age"),
    ("bad gender", "gender 'f' must be male or female"),
    ("bad age", "age 'forty' must be a whole number in 0..120"),
    ("path mismatch", "does not match its row"),
    ("no folder", "folder not found"),
    ("missing image", "missing normal"),
    ("two files one stem", "two files for mask2"),
    ("unknown file", "unexpected file"),
    ("same person twice", "line 38: person id '000001' repeats line 2"),
])
def test_broken_layouts_fail_with_one_line_naming_the_place(data_copy, how, message):
    _break(data_copy, how)
    with pytest.raises(UserError) as err:
        read_train(data_copy)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("image_id, message", [
    ("../train/train.csv", "must name a file inside eval/images"),
    ("/etc/passwd", "must name a file inside eval/images"),
    ("nope.jpg", "eval/images/nope.jpg not found"),
    ("{first}", "repeats line 2; list each eval image once"),
])
def test_bad_image_ids_are_refused(data_copy, image_id, message):
    info = pd.read_csv(data_copy / "eval" / "info.csv")
    info.loc[3, "ImageID"] = image_id.format(first=info.loc[0, "ImageID"])
    info.to_csv(data_copy / "eval" / "info.csv", index=False)
    with pytest.raises(UserError) as err:
        read_eval(data_copy)
    assert message in str(err.value) and "line 5" in str(err.value)
