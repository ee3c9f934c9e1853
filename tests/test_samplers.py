import numpy as np
import torch

from base.base_data_loader import BaseDataLoader
from data_loader.datasets import FaceDataset
from data_loader.layout import read_train
from data_loader.samplers import EpochSampler, inverse_frequency
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


def _imbalanced_labels():
    rng = np.random.default_rng(0)
    return rng.choice(18, size=3000, p=np.r_[np.full(6, 0.12), np.full(6, 0.03), np.full(6, 1 / 60)])


def test_weighted_sampler_draws_classes_evenly_random_follows_the_data():
    labels = _imbalanced_labels()
    data_share = np.bincount(labels, minlength=18) / len(labels)
    shares = {}
    for name, weights in (("random", None), ("weighted", inverse_frequency(labels))):
        sampler = EpochSampler(len(labels), seed=0, weights=weights)
        drawn = []
        for epoch in range(10):  # 30,000 draws
            sampler.set_epoch(epoch)
            drawn += [labels[i] for i, _ in sampler]
        shares[name] = np.bincount(drawn, minlength=18) / len(drawn)
    assert np.abs(shares["weighted"] - 1 / 18).max() < 0.01
    assert np.abs(shares["random"] - data_share).max() < 1e-9  # a permutation: exactly the data's shares
    assert shares["random"].max() / shares["random"].min() > 5


def test_weighted_sampler_in_training_uses_the_chosen_target(tiny_cfg, tiny_data):
    from trainer import get_trainer

    trainer = get_trainer("single")(tiny_cfg.replace(sampler="weighted", sampler_target="age"))
    table = read_train(tiny_data)
    loader = trainer.loader(table, train=True)
    drawn = []
    for epoch in range(30):
        loader.sampler.set_epoch(epoch)
        drawn += [table["age_group"][i] for i, _ in loader.sampler]
    shares = np.bincount(drawn, minlength=3) / len(drawn)
    assert np.abs(shares - 1 / 3).max() < 0.03


def test_drop_last_is_decided_from_each_process_share(tiny_cfg, tiny_data):
    """40 pictures over 4 processes is 10 each: fewer than a batch of 16, so none may be dropped."""
    table = read_train(tiny_data).head(40)
    dataset = FaceDataset(table, build_transform(tiny_cfg, True))
    shares = [BaseDataLoader(dataset, tiny_cfg, True, sampler=EpochSampler(40, 0, num_replicas=4, rank=r))
              for r in range(4)]
    assert [len(loader) for loader in shares] == [1, 1, 1, 1]
    whole = BaseDataLoader(dataset, tiny_cfg, True, sampler=EpochSampler(40, 0))
    assert len(whole) == 2  # 40 = 2 x 16 + 8: the short last batch is still dropped


def test_a_share_walks_one_permutation_so_a_pass_sees_every_picture():
    sampler = EpochSampler(103, seed=5, share=0.25)  # 26 a quarter-epoch, 4 epochs a pass
    epochs = []
    for epoch in range(1, 9):
        sampler.set_epoch(epoch)
        epochs.append([i for i, _ in sampler])
    assert all(len(e) == 26 and len(set(e)) == 26 for e in epochs)
    assert set().union(*epochs[:4]) == set(range(103))  # four quarter-epochs cover all 103 pictures
    assert len(set().union(*epochs[:3])) == 78  # and none comes back before the others had their turn
    stream = [i for e in epochs for i in e]
    assert all(set(stream[k * 103:(k + 1) * 103]) == set(range(103)) for k in range(2))  # pass after pass
    assert epochs[0] != epochs[4]  # a new permutation every pass
    sampler.set_epoch(3, start=5)  # a resumed epoch continues the same chunk
    assert [i for i, _ in sampler] == epochs[2][5:]
