"""The decoded-image cache: same pixels as decoding each time, built once, rebuilt on change."""
import os

import numpy as np
import torch

from data_loader import image_cache
from data_loader.datasets import FaceDataset
from data_loader.layout import read_train
from data_loader.transforms import build_transform


def test_cached_batches_equal_decoded_ones(tiny_cfg, tiny_data):
    table = read_train(tiny_data).head(20)
    for resize in ("stretch", "pad", "crop"):
        cfg = tiny_cfg.replace(resize=resize, image_size=(40, 32))
        images = image_cache.load(table["file"].tolist(), cfg.replace(cache="memory"))
        assert images.shape == (20, 40, 32, 3) and images.dtype == np.uint8
        plain = FaceDataset(table, build_transform(cfg, train=False))
        cached = FaceDataset(table, build_transform(cfg, train=False), images)
        assert all(torch.equal(plain[i][0], cached[i][0]) for i in range(20))


def test_disk_cache_is_built_once_and_rebuilt_when_a_file_changes(tiny_cfg, data_copy, tmp_path):
    table = read_train(data_copy).head(10)
    cfg = tiny_cfg.replace(cache="disk", cache_dir=str(tmp_path / "cache"))
    first = image_cache.load(table["file"].tolist(), cfg)
    assert isinstance(first, np.memmap)
    (built,) = (tmp_path / "cache").glob("*.npy")
    stamp = built.stat().st_mtime_ns
    again = image_cache.load(table["file"].tolist(), cfg)
    assert np.array_equal(first, again) and built.stat().st_mtime_ns == stamp
    assert not list((tmp_path / "cache").glob("*.tmp"))
    os.utime(table["file"].iloc[3], ns=(1, 1))  # the data changed: a new key, a new cache
    image_cache.load(table["file"].tolist(), cfg)
    image_cache.load(table["file"].tolist(), cfg.replace(image_size=(48, 32)))  # another size too
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3


def test_auto_picks_disk_over_the_memory_budget_and_off_is_off(tiny_cfg, tiny_data, tmp_path):
    files = read_train(tiny_data).head(4)["file"].tolist()
    cfg = tiny_cfg.replace(cache="auto", cache_dir=str(tmp_path))
    assert not isinstance(image_cache.load(files, cfg), np.memmap)
    assert isinstance(image_cache.load(files, cfg.replace(cache_memory_gb=0.0)), np.memmap)
    assert image_cache.load(files, cfg.replace(cache="off")) is None


def test_cache_size_keeps_a_larger_picture_for_the_pipeline_to_shrink(tiny_cfg, tiny_data):
    table = read_train(tiny_data).head(3)
    cfg = tiny_cfg.replace(image_size=(32, 32), cache_size=(64, 48), cache="memory")
    images = image_cache.load(table["file"].tolist(), cfg)
    assert images.shape[1:3] == (64, 48)
    assert tuple(FaceDataset(table, build_transform(cfg, train=True), images)[0][0].shape) == (3, 32, 32)


def test_every_process_meets_the_cache_barrier_when_any_machine_builds_on_disk(tiny_cfg, tiny_data, monkeypatch):
    """Machines with different --nproc_per_node may pick different cache modes (the memory budget
    is shared per machine); one barrier for every process whenever any builds a disk cache, else
    a machine keeping its cache in memory would pair its barrier with a later one and hang."""
    from base import distributed, training_data

    files = read_train(tiny_data)["file"].tolist()[:8]
    cfg = tiny_cfg.replace(cache="memory")
    waits = []
    monkeypatch.setattr(distributed, "barrier", lambda world: waits.append(world.rank))
    world = distributed.World(rank=1, size=3, local_rank=0, local_size=1)  # this machine: memory
    monkeypatch.setattr(distributed, "gather", lambda value, world: ["disk", value, "disk"])
    assert training_data.cached_images(cfg, files, world).shape[0] == 8 and waits == [1]
    monkeypatch.setattr(distributed, "gather", lambda value, world: [value] * 3)
    training_data.cached_images(cfg, files, world)
    assert waits == [1]  # nobody builds on disk: no barrier
