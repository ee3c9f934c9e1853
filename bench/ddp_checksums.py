"""train.py under torchrun, then every rank's final state compared: the proof that DDP
all-reduced, that the buffers were synced and that the EMA and the loss scale followed.

    torchrun --nproc_per_node=2 bench/ddp_checksums.py OUT.json [train.py arguments]

When the epochs end (after the last validation, before a weight average, which would hand every
rank rank 0's weights), every rank hashes its model's parameters, the weights it validated and
saves (the EMA's with its update count when it is on, buffers included: validation syncs them
from rank 0), the optimizer's state and the GradScaler's scale; rank 0 gathers the hashes and
writes OUT.json:
{"ranks": 2, "tensors": N, "differ": [names that differ between ranks]}. The model's own
buffers are left out where the EMA is validated: DDP hands rank 0's buffers to the others at
each forward, so after the last one each rank holds its own batch's statistics, and nothing
saved or scored reads them.
"""
from __future__ import annotations

import hashlib
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from base import distributed  # noqa: E402
from base.base_trainer import BaseTrainer  # noqa: E402


def digest(tensor: torch.Tensor) -> str:
    data = tensor.detach().cpu().contiguous()
    return hashlib.sha1(data.reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()


def state_digests(trainer: BaseTrainer) -> dict[str, str]:
    updater = trainer.updater
    found = {f"param {k}": digest(v) for k, v in trainer.model.named_parameters()}
    validated = updater.ema if updater.ema is not None else updater.model
    found |= {f"validated {k}": digest(v) for k, v in validated.state_dict().items()}
    for i, state in enumerate(updater.optimizer.state.values()):
        found |= {f"optimizer {i} {k}": digest(v) for k, v in state.items() if torch.is_tensor(v)}
    if updater.scaler.is_enabled():
        found["loss scale"] = repr(updater.scaler.get_scale())
    return found


def main() -> None:
    out = Path(sys.argv.pop(1))
    train_epochs = BaseTrainer.train_epochs

    def train_then_compare(self, *args, **kwargs):
        result = train_epochs(self, *args, **kwargs)
        every = distributed.gather(state_digests(self), self.world)
        if self.world.main:
            names = sorted(set().union(*every))
            differ = [n for n in names if len({d.get(n) for d in every}) > 1]
            out.write_text(json.dumps({"ranks": len(every), "tensors": len(names), "differ": differ}))
        return result

    BaseTrainer.train_epochs = train_then_compare
    sys.argv[0] = str(ROOT / "train.py")
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
