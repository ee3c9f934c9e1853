import torch

from base.base_data_loader import BaseDataLoader
from data_loader.datasets import FaceDataset
from data_loader.layout import read_train
from data_loader.samplers import EpochSampler
from data_loader.transforms import build_transform


def test_order_and_seeds_are_a_function_of_seed_and_epoch():
    a, b = EpochSampler(50, seed=1), EpochSampler(50, seed=1)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)
    assert sorted(i for i, _ in a) == list(range(50))


def test_start_skips_into_the_same_epoch():
    sampler = EpochSampler(40, seed=0)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=15)
    assert list(sampler) == full[15:] and len(sampler) == 25


def test_ranks_share_one_draw_without_overlap():
    shares = []
    for rank in range(3):
        sampler = EpochSampler(10, seed=0, num_replicas=3, rank=rank)
        sampler.set_epoch(1)
        shares.append([i for i, _ in sampler])
    assert all(len(s) == 4 for s in shares)  # ceil(10 / 3), padded like DistributedSampler
    assert set().union(*shares) == set(range(10))


def test_batches_do_not_depend_on_the_number_of_workers(tiny_cfg, tiny_data):
    table = read_train(tiny_data).head(48)
    batches = []
    for workers in (0, 2):
        cfg = tiny_cfg.replace(num_workers=workers, augment="basic")
        loader = BaseDataLoader(FaceDataset(table, build_transform(cfg, train=True)), cfg, train=True)
        loader.set_epoch(5)
        batches.append([images for images, _ in loader])
    assert all(torch.equal(x, y) for x, y in zip(*batches, strict=True))
