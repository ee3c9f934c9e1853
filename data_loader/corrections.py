"""Label corrections: fix wrong training labels at load time, without touching the data.

A corrections file is a csv with columns id,field,value (other columns are ignored, so the
audit's suspects file can be trimmed and used as it is):

    id,field,value
    000242,gender,male          the person's gender
    000510,age,61               the person's age (the age group follows)
    000267,mask,swap            the person's incorrect_mask and normal pictures swap labels
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from base.errors import UserError
from data_loader.labels import GENDERS, MASK_STEMS

FIELDS = ("gender", "age", "mask")


def apply(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """The image table with every correction of `path` applied (labels only; files stay)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config knob 'corrections': {path} not found")
    try:
        fixes = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot be read as CSV ({err}); expected columns id,field,value") from None
    missing = {"id", "field", "value"} - set(fixes.columns)
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected id,field,value")
    table = table.copy()
    persons = set(table["person"])
    done: dict[tuple[str, str], int] = {}
    for line, fix in enumerate(fixes.itertuples(index=False), start=2):
        where, rows = f"{path} line {line}", table["person"] == fix.id
        if fix.id not in persons:
            raise UserError(f"{where}: no training person with id {fix.id!r}")
        if (fix.id, fix.field) in done:  # the later row would win without a word
            raise UserError(f"{where}: id {fix.id!r} sets {fix.field} again (line {done[fix.id, fix.field]}); "
                            "keep one of the two rows")
        done[fix.id, fix.field] = line
        value = fix.value.strip().lower()
        if fix.field == "gender" and value in GENDERS:
            table.loc[rows, "gender"] = GENDERS[value]
        elif fix.field == "age" and value.isdigit() and int(value) <= 120:
            table.loc[rows, "age"] = int(value)
        elif fix.field == "mask" and value == "swap":
            for a, b in (("incorrect_mask", "normal"), ("normal", "incorrect_mask")):
                table.loc[rows & (table["stem"] == a), "mask"] = MASK_STEMS[b]
        else:
            raise UserError(f"{where}: cannot set {fix.field!r} to {fix.value!r}; fields are gender (male/female), "
                            "age (0..120) and mask (swap)")
    _say_once(path, done)
    return table


_said: set[tuple[str, int]] = set()  # (file, modification time) already reported in this process


def _say_once(path: Path, done: dict[tuple[str, str], int]) -> None:
    """One log line per corrections file and process: how many fixes of each field were applied."""
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _said:
        return
    _said.add(key)
    fields = Counter(field for _, field in done)
    parts = ", ".join(f"{field} {fields[field]}" for field in FIELDS if fields[field])
    logging.getLogger("mask18").info(f"corrections: {len(done)} row(s) of {path} applied to "
                                     f"{len({person for person, _ in done})} person(s) ({parts or 'none'})")
