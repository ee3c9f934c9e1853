"""Training speed side by side, in one process: pure compute, mask18's epoch, a plain loop.

    python bench/speed.py --data FACEBENCH_DIR           # protocol P's model and size, batch 64
    python bench/speed.py                                # the demo data
    python bench/speed.py --data DIR --set backbone=resnet10t --set image_size=64,48 --set batch_size=32

Prints images/s of, one after another on the same training pictures:
- pure compute: forward + backward + optimizer step on one pre-made batch, contiguous and
  channels_last (the ceiling of any loop);
- mask18: BaseTrainer.train_epoch as train.py runs it (decoded-image cache, the memory layout
  `channels_last = "auto"` picks, the configured augmentation);
- a plain loop, written below as what the competition's baseline code does: a Dataset that opens
  each picture with PIL per item, torchvision transforms (resize, to-tensor, normalise), a
  DataLoader with 2 workers, the contiguous layout, `loss.item()` every step;
and the ratios mask18 / plain loop and mask18 / the better pure compute. `--images N` times the
first N training pictures (default: the whole training split), `--compile` adds torch.compile rows.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from input_pipeline import _Limited, pure_compute  # noqa: E402

from base import config as config_lib  # noqa: E402
from base.epoch_progress import EpochProgress  # noqa: E402
from base.errors import exit_on_user_error  # noqa: E402
from trainer import get_trainer  # noqa: E402

P = ["backbone=mobilenetv3_small_100", "image_size=112,112", "batch_size=64", "pretrained=False"]


class PlainDataset(Dataset):
    """The baseline's Dataset: every picture opened with PIL, transformed by torchvision, per item."""

    def __init__(self, files: list[str], labels: list[int], size: tuple[int, int], mean, std):
        self.files, self.labels = files, labels
        self.transform = transforms.Compose([transforms.Resize(size), transforms.RandomHorizontalFlip(),
                                             transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(Image.open(self.files[i]).convert("RGB")), self.labels[i]


def plain_loop(cfg, table, device: torch.device) -> tuple[float, int]:
    """(seconds, images) of one epoch of the plain loop over `table`."""
    torch.manual_seed(cfg.seed)
    model = timm.create_model(cfg.backbone, pretrained=False, num_classes=18).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = PlainDataset(table["file"].tolist(), table["label"].tolist(), tuple(cfg.image_size), cfg.mean, cfg.std)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, num_workers=2, drop_last=True,
                        pin_memory=device.type == "cuda")
    model.train()
    started, seen, total = time.perf_counter(), 0, 0.0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()  # as the baseline logs it, every step
        seen += len(images)
    return time.perf_counter() - started, seen


def mask18_epoch(trainer, table, batches: int) -> tuple[float, int]:
    """(seconds, images) of BaseTrainer.train_epoch over the first `batches` batches."""
    loader = trainer.loader(table, train=True)  # builds the decoded-image cache first, as train.py does
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()
    loader.set_epoch(1)
    progress = EpochProgress(1, lr=0.0)
    started = time.perf_counter()
    trainer.train_epoch(_Limited(loader, batches), progress)
    return time.perf_counter() - started, progress.count


def compute_rate(cfg, layout: bool, batches: int) -> float:
    trainer = get_trainer(cfg.trainer)(cfg.replace(channels_last=layout))
    trainer.steps_per_epoch = batches
    trainer.build_updater()
    return 1 / pure_compute(trainer, batches)


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="after protocol P's model")
    ap.add_argument("--images", type=int, default=0, help="time the first N training pictures (default: all)")
    ap.add_argument("--compute-batches", type=int, default=20, help="batches per pure-compute timing")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (compile=True)")
    args = ap.parse_args()
    cfg = config_lib.load(overrides=P + (["data_dir=" + repr(args.data)] if args.data else []) + args.set
                          + ["plots=False", "channels_last='auto'"])
    trainer = get_trainer(cfg.trainer)(cfg)
    table, _, _ = trainer.split_tables()
    table = table.sample(frac=1.0, random_state=cfg.seed).reset_index(drop=True)
    if args.images:
        table = table.head(args.images)
    batches = len(table) // cfg.batch_size
    print(f"{cfg.backbone} at {cfg.image_size[0]}x{cfg.image_size[1]}, batch {cfg.batch_size}, {len(table)} "
          f"training pictures of {cfg.data_dir}, {trainer.device}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}", flush=True)
    print(trainer.layout_note, flush=True)
    rows = []
    compute = {}
    for name, layout in (("contiguous", False), ("channels_last", True)):
        compute[name] = compute_rate(cfg, layout, args.compute_batches)
        rows.append((f"pure compute, {name}", compute[name]))
        print(f"| {rows[-1][0]} | {rows[-1][1]:.0f} |", flush=True)
    if args.compile:
        rows.append(("pure compute, chosen layout, compile=True",
                     compute_rate(cfg.replace(compile=True), trainer.memory_format == torch.channels_last,
                                  args.compute_batches)))
        print(f"| {rows[-1][0]} | {rows[-1][1]:.0f} |", flush=True)
    seconds, seen = mask18_epoch(trainer, table, batches)
    mine = seen / seconds
    layout = "channels_last" if trainer.memory_format == torch.channels_last else "contiguous"
    rows.append((f"mask18 train_epoch (cache, {layout}, augment {cfg.augment})", mine))
    print(f"| {rows[-1][0]} | {mine:.0f} |", flush=True)
    if args.compile:
        seconds_c, seen_c = mask18_epoch(get_trainer(cfg.trainer)(cfg.replace(compile=True)), table, batches)
        rows.append(("mask18 train_epoch, compile=True (compiling included)", seen_c / seconds_c))
        print(f"| {rows[-1][0]} | {rows[-1][1]:.0f} |", flush=True)
    plain_s, plain_n = plain_loop(cfg, table, trainer.device)
    plain = plain_n / plain_s
    rows.append(("plain loop (PIL per item, torchvision, 2 workers, contiguous, loss.item() per step)", plain))
    print(f"| {rows[-1][0]} | {plain:.0f} |", flush=True)
    best = max(compute.values())
    print("\n| loop | images/s |\n|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} |")
    print(f"\nmask18 / plain loop: {mine / plain:.2f}x; mask18 / best pure compute: {mine / best:.2f}x")


if __name__ == "__main__":
    main()
