"""Where an epoch's time goes: pure model compute vs the input pipeline, with and without the cache.

    python bench/input_pipeline.py                          # the demo data, the default config
    python bench/input_pipeline.py --data DIR --set backbone=mobilenetv3_small_100 --set image_size=112,112

Prints, for the training split of the data and the configured model, image size and augmentation:
- pure compute: forward + backward + optimizer step on pre-made tensors (no loader at all);
- loader only: images/s of the training DataLoader, decoding every picture vs from the
  decoded-image cache (built beforehand, as the first epoch does);
- a training epoch (BaseTrainer.train_epoch) decoding every picture vs from the cache, and each
  one's ratio to pure compute for the same number of samples.
`--batches N` times the first N batches of an epoch instead of all of it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import Limited, pure_compute  # noqa: E402

from base import config as config_lib  # noqa: E402
from base.base_data_loader import default_workers  # noqa: E402
from base.epoch_progress import EpochProgress  # noqa: E402
from trainer import get_trainer  # noqa: E402


def loader_only(loader, batches: int) -> float:
    """Images per second the DataLoader delivers (after its workers have started)."""
    loader.set_epoch(1)
    count, started = 0, None
    for i, (images, _) in enumerate(loader):
        if i == 1:
            started, count = time.perf_counter(), 0
        count += len(images)
        if i + 1 >= batches:
            break
    return count / (time.perf_counter() - started)


def epoch(trainer, loader, batches: int) -> tuple[float, int]:
    """(seconds, samples) of BaseTrainer.train_epoch over the first `batches` batches of epoch 2."""
    trainer.steps_per_epoch = len(loader)
    loader.set_epoch(2)
    limited = Limited(loader, batches)
    progress = EpochProgress(2, lr=0.0)
    started = time.perf_counter()
    trainer.train_epoch(limited, progress)
    return time.perf_counter() - started, progress.count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data folder in the competition layout (default: the demo data)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    ap.add_argument("--batches", type=int, default=0, help="time this many batches per epoch (default: all)")
    args = ap.parse_args()
    cfg = config_lib.load(overrides=args.set + ([f"data_dir={args.data!r}"] if args.data else []))
    trainer = get_trainer(cfg.trainer)(cfg)
    train_table, _, _ = trainer.split_tables()
    built = time.perf_counter()
    cached = trainer.loader(train_table, train=True)
    build_seconds = time.perf_counter() - built
    trainer.cfg = cfg.replace(cache="off")
    decoding = trainer.loader(train_table, train=True)
    trainer.cfg = cfg
    batches = args.batches or len(cached)
    trainer.steps_per_epoch = len(cached)
    trainer.build_updater()
    compute = pure_compute(trainer, min(batches, 100))
    print(f"data: {cfg.data_dir} ({len(train_table)} training images), {cfg.backbone} at {cfg.image_size[0]}x"
          f"{cfg.image_size[1]}, batch {cfg.batch_size}, augment {cfg.augment}, "
          f"{default_workers(cfg.num_workers, trainer.device)} worker(s), {torch.get_num_threads()} torch threads, "
          f"{trainer.device}")
    print(f"cache: built in {build_seconds:.1f} s ({len(train_table) / build_seconds:.0f} images/s)")
    print(f"pure compute:          {1 / compute:8.0f} images/s")
    print(f"loader only, decoding: {loader_only(decoding, batches):8.0f} images/s")
    print(f"loader only, cached:   {loader_only(cached, batches):8.0f} images/s")
    results = {}
    for name, loader in (("decoding", decoding), ("cached", cached)):
        seconds, samples = epoch(trainer, loader, batches)
        results[name] = seconds
        ratio = seconds / (samples * compute)
        print(f"epoch, {name + ':':9s}     {seconds:7.1f} s for {samples} images = {ratio:.2f}x pure compute")
    print(f"cache speed-up per epoch: {results['decoding'] / results['cached']:.2f}x")


if __name__ == "__main__":
    main()
