"""group.json: the file that makes a folder a run group, and says how it predicts.

    {"kind": "separate" | "kfold" | "pseudo" | ..., "combine": "product" | "mean", "members": [sub-folders]}

"product" is for members of different attributes (mask x gender x age); "mean" averages members
of one target. The groups write it (group/run_group.py); prediction (predict/predictor.py), the
run report, train.py's --resume and the W&B logger read it.
"""
from __future__ import annotations

import json
from pathlib import Path

from base.atomic import write_text

GROUP_FILE = "group.json"


def write_group(folder: Path, kind: str, combine: str, members: list[str]) -> None:
    spec = {"kind": kind, "combine": combine, "members": members}
    write_text(folder / GROUP_FILE, json.dumps(spec, indent=2) + "\n")
