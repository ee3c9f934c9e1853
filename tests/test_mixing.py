import numpy as np
import pytest
import torch
import torch.nn.functional as F

from data_loader.mixing import MIXERS, BatchMixer


def _batch(n=8, h=32, w=24):
    """Image i is filled with the value i, so every pixel tells which image it came from."""
    images = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 3, h, w).clone()
    targets = {"class": torch.nn.functional.one_hot(torch.arange(n) % 18, 18).float(),
               "age": torch.nn.functional.one_hot(torch.arange(n) % 3, 3).float()}
    return images, targets


@pytest.mark.parametrize("method", ["cutmix", "vertical_cutmix", "half", "mixup"])
def test_label_weight_is_the_share_of_own_pixels(method):
    images, targets = _batch()
    mixer = BatchMixer(method, prob=1.0, alpha=1.0, seed=3)
    for step in range(20):
        mixed, soft = mixer(images, targets, epoch=1, step=step)
        own = targets["class"].argmax(1)
        lam = soft["class"][torch.arange(len(own)), own]  # the weight left on each image's own label
        if method == "mixup":  # every pixel is lam * own + (1 - lam) * partner, the partner the label says
            partner = torch.where(lam < 1, (soft["class"] * (1 - F.one_hot(own, 18))).argmax(1), own).float()
            expected = lam * torch.arange(8.0) + (1 - lam) * partner
            assert torch.allclose(mixed, expected[:, None, None, None].expand_as(mixed), atol=1e-5)
            continue
        share = (mixed == images).float().mean(dim=(1, 2, 3))
        moved = (soft["class"].argmax(1) != own) | (lam < 1)
        assert torch.allclose(share[moved], lam[moved], atol=1e-6), (method, step)
        for head in soft:  # every head gets the same mix
            assert torch.allclose(soft[head].sum(1), torch.ones(8))


def test_vertical_cutmix_cuts_full_height_strips_and_half_is_half():
    images, targets = _batch()
    mixed, _ = BatchMixer("vertical_cutmix", 1.0, 1.0, seed=0)(images, targets, 0, 0)
    changed = (mixed != images).any(dim=1)  # (N, H, W)
    assert (changed.all(dim=1) | ~changed.any(dim=1)).all()  # a column changes top to bottom or not at all
    mixed, soft = BatchMixer("half", 1.0, 1.0, seed=0)(images, targets, 0, 0)
    assert torch.equal(mixed[..., :12], images[..., :12])
    assert torch.equal(mixed[..., 12:], mixed[..., 12:13].expand_as(mixed[..., 12:]))
    own = soft["class"][torch.arange(8), targets["class"].argmax(1)]
    assert torch.allclose(own[own < 1], torch.full_like(own[own < 1], 0.5))


def test_probability_zero_or_none_leaves_the_batch_alone():
    images, targets = _batch()
    for mixer in (BatchMixer("cutmix", 0.0, 1.0, 0), BatchMixer("none", 1.0, 1.0, 0)):
        out, soft = mixer(images, targets, 1, 1)
        assert out is images and soft is targets


def test_mixing_is_a_function_of_seed_epoch_and_step():
    images, targets = _batch()
    a = BatchMixer("cutmix", 1.0, 1.0, seed=1)(images, targets, 2, 5)[0]
    b = BatchMixer("cutmix", 1.0, 1.0, seed=1)(images, targets, 2, 5)[0]
    c = BatchMixer("cutmix", 1.0, 1.0, seed=1)(images, targets, 2, 6)[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_cutmix_box_is_cut_at_the_border():
    rng = np.random.default_rng(0)
    images, _ = _batch()
    for _ in range(50):
        lam = float(rng.uniform(0.05, 0.95))
        mixed, exact = MIXERS.get("cutmix")(images, images.flip(0), lam, rng)
        assert exact == pytest.approx((mixed == images).float().mean().item())
        rows, cols = (mixed != images)[0, 0].nonzero(as_tuple=True)
        if len(rows):  # the pasted region is one axis-aligned box inside the image
            box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
            assert box == len(rows)
