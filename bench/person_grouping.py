"""How well the person vote's grouping finds persons, and what each of its steps adds.

    python bench/person_grouping.py [--data DIR] [--facebench DIR]

Groups the validation persons of the data folder (fold 0 of 5, seed 42: the split every run of
that folder validates on) from their pixels alone, in shuffled order, with the embedding learnt
from the other persons, and prints the adjusted Rand index against the true persons, the share
of pictures in a one-person group, the groups that mix persons, and the largest group, for:
the shipped grouping (predict/person_groups.py), the same without its discriminant step (PCA
alone), and without its limit on the group size; the last two at the best cut for them on the
very persons scored (an upper bound of what they could do). --data: a data folder (default: the demo data
of config.py); --facebench DIR: a facebench folder with build.py or a build of it instead.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base import config as config_lib  # noqa: E402
from base.errors import exit_on_user_error  # noqa: E402
from data_loader.split import load_split  # noqa: E402
from predict import person_groups as pg  # noqa: E402


def rows(cfg) -> list[str]:
    _, val, _ = load_split(cfg)
    val = val.sample(frac=1.0, random_state=0).reset_index(drop=True)  # as an eval set: shuffled
    grouper = pg.for_config(cfg, leave_out=val["person"].unique())
    files, truth = val["file"].tolist(), val["person"].to_numpy()
    raw = pg.features(files)
    shipped = pg._unit(grouper.lda.transform(grouper.pca.transform(raw)))
    plain = pg._unit(grouper.pca.transform(raw))
    out = []
    for name, embedded, largest, own_cut in (
            ("shipped: PCA + discriminant, groups of at most 7", shipped, 7, False),
            ("PCA alone (its best cut on these persons), groups of at most 7", plain, 7, True),
            ("PCA + discriminant, no limit on the group size (its best cut on these persons)", shipped, 0, True)):
        tree = pg._tree(embedded)
        if own_cut:  # the best any cut could do, judged on the very persons scored: an upper bound
            cuts = [pg._cut(tree, len(files), c, largest) for c in pg.CUTS]
            labels = max(cuts, key=lambda lab: pg.quality(lab, truth)["ari"])
        else:
            labels = pg._cut(tree, len(files), grouper.cut, largest)
        q = pg.quality(labels, truth)
        out.append(f"| {name} | {q['ari']:.3f} | {q['pure']:.1%} | {q['mixed']} | {np.bincount(labels).max()} |")
    header = (f"{len(val)} validation pictures of {val['person'].nunique()} persons; cut {grouper.cut:.2f} "
              f"calibrated on training persons (their ARI {grouper.calibration_ari:.3f})\n"
              "| grouping | adjusted Rand index | pictures in a one-person group | groups mixing persons | "
              "largest group |\n|---|---|---|---|---|")
    return [header, *out]


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--facebench", help="a facebench folder (with build.py) or a build of it")
    args = ap.parse_args()
    overrides = ["seed=42", "fold=0", "folds=5"]
    if args.facebench:
        sys.path.insert(0, str(ROOT / "bench"))
        from facebench import built_facebench

        overrides.append(f"data_dir={str(built_facebench(Path(args.facebench)))!r}")
    elif args.data:
        overrides.append(f"data_dir={args.data!r}")
    print("\n".join(rows(config_lib.load(overrides=overrides))))


if __name__ == "__main__":
    main()
