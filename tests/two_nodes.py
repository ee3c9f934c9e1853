"""Run train.py as one "machine" of a two-node torchrun job and record what its process did.

    torchrun --nnodes=2 --node_rank=K ... tests/two_nodes.py OUT_DIR [train.py arguments]

Each process writes OUT_DIR/rank<r>.json: its machine (`node`, the name of the working folder it
runs in), train.py's exit code (or the exception it raised: `exit`), the pictures of each disk
cache it wrote (`built`), and the name and inode of each disk cache it mapped (`mapped`). Only
rank 0 may read a pseudo_labels file: the others fail if they try.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import train  # noqa: E402
from data_loader import image_cache, pseudo_labels  # noqa: E402

out, args = Path(sys.argv[1]), sys.argv[2:]
rank = int(os.environ["RANK"])
seen = {"node": Path.cwd().name, "built": [], "mapped": []}
fill, load = image_cache._fill, image_cache.load


def counting_fill(images, files, *rest):
    if isinstance(images, np.memmap):  # a disk cache being written
        seen["built"].append(len(files))
    fill(images, files, *rest)


def recording_load(*a, **kw):
    images = load(*a, **kw)
    if isinstance(images, np.memmap):
        seen["mapped"].append([Path(images.filename).name, os.stat(images.filename).st_ino])
    return images


def blind(path, root):
    raise AssertionError(f"rank {rank} read {path}: only rank 0 may read the pseudo-label file")


image_cache._fill, image_cache.load = counting_fill, recording_load
if rank:
    pseudo_labels.training_rows = blind
try:
    train.main(args)
    seen["exit"] = 0
except SystemExit as stop:
    seen["exit"] = stop.code
    raise
except BaseException as error:  # a traceback: what the tests say must never happen
    seen["exit"] = repr(error)
    raise
finally:
    (out / f"rank{rank}.json").write_text(json.dumps(seen))
