"""Run train.py's multi-process paths under torchrun and record what each process did.

    torchrun --standalone --nproc_per_node=2 tests/ddp_paths.py OUT_DIR [train.py --set arguments]

In one process group, in turn: a k-fold group, separate models, an `average_last` run with a
disk image cache, and that run resumed for one more epoch while rank 1 cannot read a single
checkpoint (as on a node without the shared file system); then a run with a loss and a callback
of custom_imports (tests/custom_extension.py), which the callback stops after its first epoch
(rank 0 alone runs callbacks), and its resume. Each process writes to OUT_DIR:
fill-rank<r>.txt (pictures it decoded into a disk cache), init-rank<r>.txt (per trainer made:
a random draw right after it and the sum of its initial weights) and done-rank<r>.txt (whether
the process group was still up after train.py's last run).
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

import train  # noqa: E402
from base import checkpoint_files, distributed  # noqa: E402
from base.base_trainer import BaseTrainer  # noqa: E402
from data_loader import image_cache  # noqa: E402

out, args = Path(sys.argv[1]), sys.argv[2:]
rank = int(os.environ["RANK"])


def record(name: str, line: str) -> None:
    with open(out / f"{name}-rank{rank}.txt", "a") as file:
        file.write(line + "\n")


fill = image_cache._fill


def counting_fill(images, files, *rest):
    if isinstance(images, np.memmap):  # a disk cache being written (a memory cache is each process's own)
        record("fill", str(len(files)))
    fill(images, files, *rest)


init = BaseTrainer.__init__


def recording_init(self, cfg):
    init(self, cfg)
    weights = sum(p.double().sum().item() for p in self.model.parameters())
    record("init", json.dumps({"draw": torch.rand(1).item(), "weights": weights}))


def blind(path):
    raise AssertionError(f"rank {rank} read {path}: only rank 0 may read checkpoints")


image_cache._fill = counting_fill
BaseTrainer.__init__ = recording_init
shutdown, distributed.shutdown = distributed.shutdown, lambda: None  # one process group for every run here
train.main([*args, "--set", "kfold=True", "--set", "folds=2", "--set", "name='kfold'"])
train.main([*args, "--set", "trainer='separate'", "--set", "name='separate'"])
average = [*args, "--set", "epochs=2", "--set", "average_last=2", "--set", "cache='disk'",
           "--set", f"cache_dir='{out / 'cache'}'", "--set", "name='average'"]
train.main(average)
if rank == 1:
    checkpoint_files.load = blind
train.main(["--resume", "auto", *average, "--set", "epochs=3"])
stopped = [*args, "--set", "epochs=2", "--set", "custom_imports=['tests/custom_extension.py']", "--set",
           "loss='test_poly1'", "--set", "callbacks=['test_stop_at_one']", "--set", "name='stopped'"]
train.main(stopped)
train.main(["--resume", "auto", *stopped])
shutdown()
record("done", str(dist.is_initialized()))
