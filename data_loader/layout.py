"""Read the competition layout into one table with a row per image.

    <data_dir>/train/train.csv          id,gender,race,age,path (one row per person)
    <data_dir>/train/images/<path>/     mask1..mask5, incorrect_mask, normal (.jpg/.jpeg/.png)
    <data_dir>/eval/info.csv            ImageID,ans
    <data_dir>/eval/images/<ImageID>

Problems are collected and reported as one line naming the file and the fix.
Hidden files (such as macOS `._mask1.jpg` copies) are ignored.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from base.errors import UserError
from data_loader.labels import GENDERS, MASK_STEMS, OFFICIAL_AGE_THRESHOLDS, age_group, encode

TRAIN_COLUMNS = ("id", "gender", "race", "age", "path")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def data_root(cfg) -> Path:
    """The data folder the config names; "demo" makes (once) and returns the demo data."""
    if cfg.data_dir == "demo":
        from data_loader.demo_data import demo_dir

        return demo_dir(cfg.demo_persons, cfg.demo_eval_persons, cfg.demo_image_size, cfg.demo_seed)
    root = Path(cfg.data_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"data_dir {root} does not exist; set data_dir to the competition folder "
                        "(holding train/ and eval/) or to \"demo\"")
    if not (root / "train").is_dir() and not (root / "eval").is_dir():  # e.g. data_dir = .../train
        above = next((p for p in root.resolve().parents if (p / "train").is_dir() or (p / "eval").is_dir()), None)
        raise UserError(f"data_dir {root} holds no train/ or eval/ folder; point data_dir at the folder holding "
                        "train/ and eval/" + (f", here probably {above}" if above else ""))
    return root


def read_train(root: Path, age_thresholds: Sequence[int] = OFFICIAL_AGE_THRESHOLDS,
               corrections: str | Path = "") -> pd.DataFrame:
    """One row per training image: file, person, folder, stem, race, age, mask, gender, and the
    labels of `add_labels`; a `corrections` file (data_loader/corrections.py) fixes labels first.
    listed_gender and listed_age_group keep train.csv's own labels (official groups, uncorrected)."""
    csv_path = root / "train" / "train.csv"
    persons = _read_csv(csv_path, TRAIN_COLUMNS, "id,gender,race,age,path (one row per person)")
    # A repeated id would train twice on one person (or merge two persons into one split group).
    problems = _repeated(persons["id"], csv_path, "person id",
                         "one row per person: delete the repeated row, or give the other person its own id and folder")
    rows = []
    for line, person in enumerate(persons.itertuples(index=False), start=2):
        where = f"{csv_path} line {line}"
        gender = person.gender.strip().lower()
        if gender not in GENDERS:
            problems.append(f"{where}: gender {person.gender!r} must be male or female")
            continue
        age = _age(person.age)
        if age is None:
            problems.append(f"{where}: age {person.age!r} must be a whole number in 0..120")
            continue
        expected = f"{person.id}_{person.gender}_{person.race}_{person.age}"
        if person.path != expected:
            problems.append(f"{where}: path {person.path!r} does not match its row (expected {expected!r}); "
                            "fix the csv or rename the folder")
            continue
        folder = root / "train" / "images" / person.path
        files = _person_images(folder, problems)
        for stem, file in files.items():
            rows.append((str(file), person.id, person.path, stem, person.race, age,
                         MASK_STEMS[stem], GENDERS[gender]))
    _raise_all(problems)
    if not rows:
        raise UserError(f"{csv_path}: no training images found; check data_dir")
    table = pd.DataFrame(rows, columns=["file", "person", "folder", "stem", "race", "age", "mask", "gender"])
    # The labels as train.csv lists them, official groups, before any correction: what the folds
    # are stratified by, so label knobs never move a person between training and validation.
    table["listed_gender"] = table["gender"]
    table["listed_age_group"] = age_group(table["age"].to_numpy(), OFFICIAL_AGE_THRESHOLDS)
    if corrections:
        from data_loader.corrections import apply

        table = apply(table, corrections)
    return add_labels(table, age_thresholds)


def add_labels(table: pd.DataFrame, age_thresholds: Sequence[int]) -> pd.DataFrame:
    """age_group and label (18-class) with the given age boundaries, for training, and
    official_age_group and official_label with the competition's, for scoring."""
    table = table.copy()
    for prefix, thresholds in (("", age_thresholds), ("official_", OFFICIAL_AGE_THRESHOLDS)):
        table[f"{prefix}age_group"] = age_group(table["age"].to_numpy(), thresholds)
        table[f"{prefix}label"] = encode(table["mask"], table["gender"], table[f"{prefix}age_group"])
    return table


def read_eval(root: Path) -> pd.DataFrame:
    """The rows of eval/info.csv in order, with the image file of each: ImageID, file."""
    csv_path = root / "eval" / "info.csv"
    info = _read_csv(csv_path, ("ImageID",), "ImageID,ans (one row per eval image)")
    images = (root / "eval" / "images").resolve()
    # The submission has a row per info.csv row: a repeated one would be submitted twice.
    problems = _repeated(info["ImageID"], csv_path, "ImageID", "list each eval image once (delete the repeated row)")
    files = []
    for line, image_id in enumerate(info["ImageID"], start=2):
        file = (images / image_id).resolve()
        if Path(image_id).is_absolute() or images not in file.parents:
            problems.append(f"{csv_path} line {line}: ImageID {image_id!r} must name a file inside eval/images")
        elif not file.is_file():
            problems.append(f"{csv_path} line {line}: image eval/images/{image_id} not found")
        files.append(str(file))
    _raise_all(problems)
    if not files:
        raise UserError(f"{csv_path}: no rows; it must list the eval images")
    return pd.DataFrame({"ImageID": info["ImageID"], "file": files})


def _read_csv(path: Path, columns: Sequence[str], expected: str) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path} not found; data_dir must hold it with columns {expected}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot be read as CSV ({err}); expected columns {expected}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected columns {expected}")
    return frame


def _repeated(values: Sequence[str], csv_path: Path, what: str, fix: str) -> list[str]:
    """A problem for every row whose value an earlier row already has (csv lines from 2)."""
    first: dict[str, int] = {}
    problems = []
    for line, value in enumerate(values, start=2):
        if value in first:
            problems.append(f"{csv_path} line {line}: {what} {value!r} repeats line {first[value]}; {fix}")
        first.setdefault(value, line)
    return problems


def _age(text: str) -> int | None:
    try:
        age = int(text.strip())
    except ValueError:
        return None
    return age if 0 <= age <= 120 else None


def _person_images(folder: Path, problems: list[str]) -> dict[str, Path]:
    """stem -> file of a person's seven pictures; problems are appended, not raised."""
    if not folder.is_dir():
        problems.append(f"{folder}: folder not found; every row of train.csv needs its images folder")
        return {}
    found: dict[str, Path] = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        stem, ext = os.path.splitext(name)
        if stem not in MASK_STEMS or ext.lower() not in IMAGE_EXTENSIONS:
            problems.append(f"{folder / name}: unexpected file; a person folder holds only "
                            f"{', '.join(MASK_STEMS)} as .jpg/.jpeg/.png")
        elif stem in found:
            problems.append(f"{folder}: two files for {stem} ({found[stem].name}, {name}); keep one")
        else:
            found[stem] = folder / name
    missing = [s for s in MASK_STEMS if s not in found]
    if missing:
        problems.append(f"{folder}: missing {', '.join(missing)}; each person needs all seven pictures")
    return found


def _raise_all(problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more problem(s) like it)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
