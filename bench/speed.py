"""Training speed side by side, in one process: pure compute, mask18's epoch, a plain loop.

    python bench/speed.py --data FACEBENCH_DIR           # protocol P's model and size, batch 64
    python bench/speed.py                                # the demo data
    python bench/speed.py --data DIR --set backbone=resnet10t --set image_size=64,48 --set batch_size=32

Times images/s of, on the same training pictures:
- pure compute: forward + backward + optimizer step on one pre-made batch, contiguous and
  channels_last (the ceiling of any loop);
- mask18: BaseTrainer.train_epoch as train.py runs it (decoded-image cache, the memory layout
  `channels_last = "auto"` picks, the configured augmentation, the fused optimizer);
- a plain loop, written below as what the competition's baseline code does: a Dataset that opens
  each picture with PIL per item, torchvision transforms (resize, to-tensor, normalise), a
  DataLoader with 2 workers, the contiguous layout, torch's default AdamW, `loss.item()` every
  step;
and the ratios mask18 / plain loop and mask18 / the better pure compute.

A shared machine's speed drifts by several percent within minutes, so the three are not timed one
after the other but interleaved: the epoch is cut into `--rounds` rounds, and each round times both
pure computes, then mask18 on its share of the batches, then the plain loop on the same share
(whose workers start afresh every round, as the baseline's do every epoch); a last pure-compute
reading closes the run. Each ratio is of totals over the whole epoch, and the per-round ratios
show the spread. `--images N` times the first N training pictures (default: the whole training
split); `--compile` adds compile=True: pure compute (with the compile time) and mask18 on one
round's batches.
On CUDA the last line is the peak GPU memory of the whole bench.
"""
from __future__ import annotations

import argparse
import statistics
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

from timing import Limited, pure_compute  # noqa: E402

from base import config as config_lib  # noqa: E402
from base.epoch_progress import EpochProgress  # noqa: E402
from base.errors import UserError, exit_on_user_error  # noqa: E402
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


def plain_model(cfg, device: torch.device):
    """The plain loop's model and optimizer (torch's defaults), made once for every round."""
    torch.manual_seed(cfg.seed)
    model = timm.create_model(cfg.backbone, pretrained=False, num_classes=18).to(device)
    return model, torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def plain_loop(cfg, table, model, optimizer, device: torch.device) -> tuple[float, int]:
    """(seconds, images) of the plain loop over `table`, its DataLoader's workers started anew."""
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


def mask18_round(trainer, loader, start: int, batches: int) -> tuple[float, int]:
    """(seconds, images) of BaseTrainer.train_epoch over `batches` batches of epoch 1 from `start`."""
    loader.set_epoch(1, start)
    progress = EpochProgress(1, lr=0.0)
    started = time.perf_counter()
    trainer.train_epoch(Limited(loader, batches), progress)
    return time.perf_counter() - started, progress.count


def compute_trainer(cfg, layout: bool, steps: int):
    trainer = get_trainer(cfg.trainer)(cfg.replace(channels_last=layout))
    trainer.steps_per_epoch = steps
    trainer.build_updater()
    return trainer


def rounds_of(batches: int, rounds: int) -> list[tuple[int, int]]:
    """(first batch, batches) of each round: the epoch's batches in `rounds` near-equal shares."""
    cuts = [batches * r // rounds for r in range(rounds + 1)]
    return [(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def row(name: str, rate: float, note: str = "") -> None:
    print(f"| {name} | {rate:.0f} | {note} |", flush=True)


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="after protocol P's model")
    ap.add_argument("--images", type=int, default=0, help="time the first N training pictures (default: all)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds the timings are interleaved in (default 5)")
    ap.add_argument("--compute-batches", type=int, default=20, help="batches per pure-compute reading (default 20)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (compile=True)")
    args = ap.parse_args()
    if args.rounds < 1 or args.compute_batches < 1:
        raise UserError("--rounds and --compute-batches: give 1 or more")
    cfg = config_lib.load(overrides=P + (["data_dir=" + repr(args.data)] if args.data else []) + args.set
                          + ["plots=False", "channels_last='auto'"])
    trainer = get_trainer(cfg.trainer)(cfg)
    table, _, _ = trainer.split_tables()
    table = table.sample(frac=1.0, random_state=cfg.seed).reset_index(drop=True)
    if args.images:
        table = table.head(args.images)
    batches = len(table) // cfg.batch_size
    if batches < args.rounds:
        raise UserError(f"{len(table)} training pictures make {batches} batches of {cfg.batch_size}, fewer than "
                        f"--rounds {args.rounds}; time more pictures or fewer rounds")
    print(f"{cfg.backbone} at {cfg.image_size[0]}x{cfg.image_size[1]}, batch {cfg.batch_size}, {len(table)} "
          f"training pictures of {cfg.data_dir}, {trainer.device}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, {args.rounds} rounds", flush=True)
    print(trainer.layout_note, flush=True)
    layout = "channels_last" if trainer.memory_format == torch.channels_last else "contiguous"
    loader = trainer.loader(table, train=True)  # builds the decoded-image cache first, as train.py does
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()
    computes = {name: compute_trainer(cfg, last, args.compute_batches)
                for name, last in (("contiguous", False), ("channels_last", True))}
    plain_net = plain_model(cfg, trainer.device)
    readings = {name: [] for name in computes}
    rounds = rounds_of(batches, args.rounds)
    timed = []  # per round: (mask18 seconds, images, plain loop seconds, images)
    per_round = []  # per round: (mask18, plain loop) images/s
    for r, (start, count) in enumerate(rounds):
        for name, computer in computes.items():
            readings[name].append(1 / pure_compute(computer, args.compute_batches))
        part = table.iloc[start * cfg.batch_size:(start + count) * cfg.batch_size]
        timed.append((*mask18_round(trainer, loader, start, count),
                      *plain_loop(cfg, part, *plain_net, trainer.device)))
        s, n, ps, pn = timed[-1]
        per_round.append((n / s, pn / ps))
        print(f"round {r + 1}: pure compute {readings['contiguous'][-1]:.0f} contiguous / "
              f"{readings['channels_last'][-1]:.0f} channels_last, mask18 {per_round[-1][0]:.0f}, "
              f"plain loop {per_round[-1][1]:.0f} images/s", flush=True)
    for name, computer in computes.items():
        readings[name].append(1 / pure_compute(computer, args.compute_batches))
    mine_s, mine_n, plain_s, plain_n = (sum(column) for column in zip(*timed, strict=True))
    mine_rate, plain_rate = mine_n / mine_s, plain_n / plain_s
    compute = {name: statistics.median(values) for name, values in readings.items()}
    best = max(compute, key=compute.get)

    print("\n| loop | images/s | readings |\n|---|---|---|")
    for name, values in readings.items():
        row(f"pure compute, {name}", compute[name],
            f"median of {len(values)}: " + " / ".join(f"{v:.0f}" for v in values))
    row(f"mask18 train_epoch (cache, {layout}, augment {cfg.augment})", mine_rate,
        "rounds: " + " / ".join(f"{m:.0f}" for m, _ in per_round))
    row("plain loop (PIL per item, torchvision, 2 workers, contiguous, loss.item() per step)", plain_rate,
        "rounds: " + " / ".join(f"{p:.0f}" for _, p in per_round))
    if args.compile:
        compiled(cfg, trainer.memory_format == torch.channels_last, trainer, computes[layout], loader,
                 rounds[0], args.compute_batches)
    around = [(a + b) / 2 for a, b in zip(readings[best], readings[best][1:], strict=False)]  # before and after
    print(f"\nmask18 / plain loop: {mine_rate / plain_rate:.2f}x (rounds "
          + " / ".join(f"{m / p:.2f}" for m, p in per_round) + f"); mask18 / best pure compute ({best}): "
          f"{mine_rate / compute[best]:.2f}x (rounds, against the readings around each: "
          + " / ".join(f"{m / c:.2f}" for (m, _), c in zip(per_round, around, strict=True))
          + f"); the plain loop / pure compute contiguous: {plain_rate / compute['contiguous']:.2f}x")
    if trainer.device.type == "cuda":  # every loop above held its model at once: an upper bound for each
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(trainer.device) / 2**30:.2f} GiB allocated, "
              f"{torch.cuda.max_memory_reserved(trainer.device) / 2**30:.2f} GiB reserved (the whole bench)")


def compiled(cfg, layout: bool, eager_trainer, eager_computer, loader, first_round: tuple[int, int],
             compute_batches: int) -> None:
    """Rows for compile=True in the layout auto chose, each beside the eager loop timed next to it:
    pure compute in three alternating pairs (the first compiled call compiles), and mask18's epoch
    on the first round's batches, compiled then eager."""
    computer = compute_trainer(cfg.replace(compile=True), layout, compute_batches)
    started = time.perf_counter()
    pure_compute(computer, 1)  # compiles forward and backward
    first = time.perf_counter() - started
    pairs = [(1 / pure_compute(computer, compute_batches), 1 / pure_compute(eager_computer, compute_batches))
             for _ in range(3)]
    fast, slow = (statistics.median(v) for v in zip(*pairs, strict=True))
    row("pure compute, compile=True", fast, f"eager beside it {slow:.0f}: {fast / slow:.2f}x; compiling took about "
        f"{first - 4 * cfg.batch_size / fast:.0f} s (" + " / ".join(f"{c:.0f}:{e:.0f}" for c, e in pairs) + ")")
    trainer = get_trainer(cfg.trainer)(cfg.replace(compile=True, channels_last=layout))
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()
    mask18_round(trainer, loader, first_round[0], 1)  # compiles (the graphs cached above make it quicker)
    seconds, seen = mask18_round(trainer, loader, *first_round)
    eager_s, eager_n = mask18_round(eager_trainer, loader, *first_round)
    fast, slow = seen / seconds, eager_n / eager_s
    row("mask18 train_epoch, compile=True (after compiling)", fast,
        f"the first round's batches; eager right after {slow:.0f}: {fast / slow:.2f}x")


if __name__ == "__main__":
    main()
