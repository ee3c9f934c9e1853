"""Label-noise audit: list training persons whose labels the out-of-fold predictions contradict.

    python -m data_loader.audit runs/kfold-20260101-120000 [--out FILE.csv] [--min-confidence 0.5]

It reads a k-fold group's oof.csv (every training image predicted by the fold model that never
saw it) and flags, per person:
- gender: most of the person's pictures are predicted as the other gender;
- mask:   the incorrect_mask picture looks not-worn and the normal picture looks incorrect;
- age:    the person's pictures agree on another age group, giving the labelled one < 0.2 on average.
The output, ranked by confidence, is in the corrections format (id,field,value plus why), so
after a look at the pictures it can be given to the `corrections` knob as it is (age rows need
a value filled in: the audit knows the group, not the age).

The probabilities are in the training-label space, so the labelled age group is computed with
the `age_thresholds` the group trained with (its config.json, next to oof.csv): under (30, 58)
a 58-year-old predicted >=60 is right, not a suspect. A bare oof.csv falls back to an
`age_group` column, then to its `label` column (k-fold writes the training label there), then
to the official groups; the command says which it used.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from base.cli_types import HelpFormatter, share
from base.errors import ArgumentParser, UserError, exit_on_user_error
from data_loader.labels import AGE_NAMES, GENDER_NAMES, OFFICIAL_AGE_THRESHOLDS, age_group

COLUMNS = ["id", "field", "value", "kind", "confidence", "evidence", "folder"]


def marginals(oof: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(mask), P(gender), P(age group) per image from the 18 class probabilities."""
    joint = oof[[f"p{c}" for c in range(18)]].to_numpy().reshape(-1, 3, 2, 3)
    return joint.sum((2, 3)), joint.sum((1, 3)), joint.sum((1, 2))


def trained_thresholds(folder: Path) -> tuple[int, int] | None:
    """The age_thresholds a run or group folder trained with (its config.json), or None."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    return tuple(json.loads(path.read_text()).get("age_thresholds", OFFICIAL_AGE_THRESHOLDS))


def labelled_age_groups(oof: pd.DataFrame, thresholds: tuple[int, int] | None = None) -> tuple[np.ndarray, str]:
    """Each image's labelled age group in the label space its predictions are in, and the source."""
    if thresholds is not None:
        return age_group(oof["age"].to_numpy(), thresholds), f"age_thresholds {tuple(thresholds)}"
    if "age_group" in oof:
        return oof["age_group"].to_numpy(), "the oof's age_group column"
    if "label" in oof:  # the 18-class training label: 6 * mask + 3 * gender + age_group
        return oof["label"].to_numpy() % 3, "the oof's label column"
    return age_group(oof["age"].to_numpy()), "official age groups (no config.json, age_group or label column)"


def _age_names(thresholds: tuple[int, int] | None) -> tuple[str, str, str]:
    if thresholds is None:
        return AGE_NAMES
    young, old = thresholds
    return f"<{young}", f"{young}-{old - 1}", f">={old}"


def suspects(oof: pd.DataFrame, min_confidence: float = 0.5,
             age_thresholds: tuple[int, int] | None = None) -> pd.DataFrame:
    """Suspect labels ranked by confidence (see the module's doc for the three kinds);
    `age_thresholds` are those the predictions were trained with (see labelled_age_groups)."""
    p_mask, p_gender, p_age = marginals(oof)
    names = _age_names(age_thresholds)
    oof = oof.assign(p_female=p_gender[:, 1], pred_gender=p_gender.argmax(1),
                     p_inc_as_normal=p_mask[:, 2], p_inc_as_inc=p_mask[:, 1],
                     age_label=labelled_age_groups(oof, age_thresholds)[0],
                     **{f"p_age{a}": p_age[:, a] for a in range(3)})
    rows = []
    for person, pics in oof.groupby("person", sort=True):
        folder = Path(pics["file"].iloc[0]).parent.name
        gender = int(pics["gender"].iloc[0])
        other = (pics["pred_gender"] != gender).sum()
        if other > len(pics) / 2:
            p_other = float((pics["p_female"] if gender == 0 else 1 - pics["p_female"]).mean())
            rows.append((person, "gender", GENDER_NAMES[1 - gender], "gender", p_other,
                         f"{other} of {len(pics)} pictures look {GENDER_NAMES[1 - gender]}", folder))
        inc, normal = pics[pics["stem"] == "incorrect_mask"], pics[pics["stem"] == "normal"]
        if len(inc) == 1 and len(normal) == 1:
            inc_looks_normal = inc["p_inc_as_normal"].iloc[0]
            normal_looks_inc = normal["p_inc_as_inc"].iloc[0]
            if inc_looks_normal > inc["p_inc_as_inc"].iloc[0] and normal_looks_inc > normal["p_inc_as_normal"].iloc[0]:
                rows.append((person, "mask", "swap", "incorrect_mask<->normal",
                             float(np.sqrt(inc_looks_normal * normal_looks_inc)),
                             f"incorrect_mask looks not worn ({inc_looks_normal:.2f}), normal looks incorrect "
                             f"({normal_looks_inc:.2f})", folder))
        group = int(pics["age_label"].iloc[0])
        mean_age = pics[[f"p_age{a}" for a in range(3)]].to_numpy().mean(0)
        if mean_age.argmax() != group and mean_age[group] < 0.2:
            rows.append((person, "age", "", f"age {names[group]} -> {names[mean_age.argmax()]}",
                         float(1 - mean_age[group]), f"age {pics['age'].iloc[0]} labelled; pictures say "
                         f"{names[mean_age.argmax()]} ({mean_age.max():.2f})", folder))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table = table[table["confidence"] >= min_confidence]
    return table.sort_values(["confidence", "id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def build_parser() -> ArgumentParser:
    ap = ArgumentParser(prog="python -m data_loader.audit", description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("group", type=Path, metavar="GROUP", help="a k-fold group folder (with oof.csv), or an oof.csv")
    ap.add_argument("--out", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                    help="the csv file to write (default: suspects.csv beside the oof.csv)")
    ap.add_argument("--min-confidence", type=share, default=0.5, metavar="P",
                    help="drop weaker suspects; in (0, 1]")
    return ap


@exit_on_user_error
def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    path = args.group if args.group.suffix == ".csv" else args.group / "oof.csv"
    if not args.group.exists():
        raise UserError(f"GROUP {args.group} does not exist; name a k-fold group folder (runs/kfold-...) "
                        "or its oof.csv")
    if not path.is_file():
        raise UserError(f"{path} not found; train with kfold=True first (its group folder holds oof.csv)")
    out = vars(args).get("out") or path.with_name("suspects.csv")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; name a file, e.g. {out / 'suspects.csv'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make its folder ({err.strerror}); name a writable place") from None
    from base.atomic import write_csv  # here, not at the top: it imports torch, which --help does not need

    oof, thresholds = pd.read_csv(path, dtype={"person": str}), trained_thresholds(path.parent)
    print(f"labelled age groups from {labelled_age_groups(oof, thresholds)[1]}")
    found = suspects(oof, args.min_confidence, thresholds)
    write_csv(out, found)
    print(found.head(20).to_string(index=False) if len(found) else "no suspects")
    print(f"{len(found)} suspect label(s) -> {out}")
    return found


if __name__ == "__main__":
    main()
