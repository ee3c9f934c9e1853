"""Run train.py under torchrun while recording which samples each process trained on.

    torchrun --standalone --nproc_per_node=2 tests/ddp_probe.py SEEN_DIR [train.py arguments]

Each process writes SEEN_DIR/rank<r>-epoch<e>.txt with the dataset indices its sampler gave it.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train  # noqa: E402
from data_loader.samplers import EpochSampler  # noqa: E402

seen_dir = Path(sys.argv[1])
real_iter = EpochSampler.__iter__


def recording_iter(self):
    items = list(real_iter(self))
    (seen_dir / f"rank{os.environ['RANK']}-epoch{self.epoch}.txt").write_text("\n".join(str(i) for i, _ in items))
    return iter(items)


EpochSampler.__iter__ = recording_iter
train.main(sys.argv[2:])
