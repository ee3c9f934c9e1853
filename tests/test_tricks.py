"""The top teams' tricks as knobs: randaugment, drop_ages, sampler_share, average_last."""
import json

import albumentations as A
import numpy as np
import pandas as pd
import pytest
import torch

import inference
import train
from base import checkpoint_files, weight_average
from base.config import load
from base.distributed import World
from base.errors import UserError
from base.training_data import build_loader, training_rows
from data_loader.randaugment import operations
from data_loader.samplers import EpochSampler
from data_loader.split import load_split
from data_loader.transforms import build_transform


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def _face(seed=0):
    """A smooth picture (a flip or a mild operation changes it a little, not everything)."""
    y, x = np.mgrid[0:48, 0:40]
    rng = np.random.default_rng(seed)
    image = np.stack([x * 5, y * 4, (x + y) * 2], -1) + rng.integers(0, 20, (48, 40, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _pipeline(tiny_cfg, **knobs):
    return build_transform(tiny_cfg.replace(augment="randaugment", image_size=(48, 40), **knobs), train=True)


def test_randaugment_draws_n_operations_of_magnitude_m(tiny_cfg):
    image = _face()
    flips = {image.tobytes(), image[:, ::-1].tobytes()}
    none = _pipeline(tiny_cfg, randaugment_n=0)
    assert all(none(image=image)["image"].permute(1, 2, 0).numpy().tobytes() in flips for _ in range(20))

    def change(m):  # mean pixel change from the picture or its mirror, over many draws
        pipe = _pipeline(tiny_cfg, randaugment_n=2, randaugment_m=m)
        out = [pipe(image=image)["image"].permute(1, 2, 0).numpy().astype(int) for _ in range(60)]
        return np.mean([min(np.abs(o - image).mean(), np.abs(o - image[:, ::-1]).mean()) for o in out])

    assert change(10) > 1.5 * change(1) > 0
    some_of = [t for t in _pipeline(tiny_cfg, randaugment_n=3).transforms if isinstance(t, A.SomeOf)]
    assert len(some_of) == 1 and some_of[0].n == 3
    names = {type(t).__name__ for t in operations(9)}
    assert "CoarseDropout" in names and "VerticalFlip" not in names  # cutout in, faces upright


def test_randaugment_knobs_are_checked():
    with pytest.raises(UserError, match="randaugment_m"):
        load(overrides=["randaugment_m=11"])
    with pytest.raises(UserError, match="sampler_share"):
        load(overrides=["sampler_share=0"])
    with pytest.raises(UserError, match="drop_ages"):
        load(overrides=["drop_ages=[(30, 20)]"])


def test_drop_ages_leaves_persons_out_of_training_never_out_of_validation(tiny_cfg):
    cfg = tiny_cfg.replace(drop_ages=[(20, 29), (60, 60)])
    train_rows, val_rows, _ = load_split(cfg)
    kept = training_rows(cfg, train_rows)
    dropped = train_rows["age"].between(20, 29) | (train_rows["age"] == 60)
    assert dropped.any() and len(kept) == (~dropped).sum()
    assert not (kept["age"].between(20, 29) | (kept["age"] == 60)).any()
    assert set(kept["person"]) == set(train_rows.loc[~dropped, "person"])
    # validation is the same persons with or without the knob
    assert load_split(tiny_cfg)[1]["file"].tolist() == val_rows["file"].tolist()
    assert val_rows["age"].between(20, 29).any()


def test_sampler_share_draws_the_next_share_every_epoch():
    sampler = EpochSampler(100, seed=0, share=0.25)
    seen = set()
    for epoch in range(1, 5):
        sampler.set_epoch(epoch)
        drawn = [i for i, _ in sampler]
        assert len(drawn) == len(sampler) == 25 and len(set(drawn)) == 25  # without replacement
        seen |= set(drawn)
    assert len(seen) == 100  # four epochs of a quarter see every sample once
    whole = EpochSampler(100, seed=0)
    whole.set_epoch(1)  # share 1 is the full draw it always was
    assert [i for i, _ in whole] == torch.randperm(100, generator=torch.Generator().manual_seed(1)).tolist()
    weighted = EpochSampler(100, seed=0, weights=torch.ones(100, dtype=torch.float64), share=0.5)
    weighted.set_epoch(1)
    assert len(list(weighted)) == 50


def test_sampler_share_shortens_the_training_epoch(tiny_cfg):
    train_rows, _, _ = load_split(tiny_cfg)
    world = World()
    full = build_loader(tiny_cfg, train_rows, True, world, torch.device("cpu"))
    half = build_loader(tiny_cfg.replace(sampler_share=0.5), train_rows, True, world, torch.device("cpu"))
    assert len(half.sampler) == round(len(train_rows) / 2) and len(half) < len(full)


def test_average_last_saves_the_validated_mean_of_the_last_epochs(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides + ["epochs=3", "average_last=2", "ema=True"]))
    (run,) = (tmp_path / "runs").iterdir()
    kept = checkpoint_files.epoch_files(run)
    assert [e for e, _ in kept] == [2, 3]  # average_last keeps the epochs it averages
    averaged = checkpoint_files.load(run / "averaged.pt")
    assert averaged["averaged_epochs"] == [2, 3]
    states = [weight_average.validated_weights(checkpoint_files.load(p)) for _, p in kept]  # the EMA's weights
    for key, value in averaged["model"].items():
        if "running_" in key or "num_batches" in key:
            continue  # batch norm is measured anew
        assert torch.allclose(value, (states[0][key] + states[1][key]) / 2, atol=1e-6), key
    bn = [k for k in averaged["model"] if k.endswith("running_mean")]
    assert bn and not torch.allclose(averaged["model"][bn[0]], (states[0][bn[0]] + states[1][bn[0]]) / 2)
    row = pd.read_csv(run / "averaged.csv").iloc[0]
    assert row["epochs"] == "2-3" and 0 <= row["val_f1"] <= 1
    result = inference.main(["--run", str(run), "--checkpoint", "averaged", "--evaluate", "--tta", "none"])
    assert result["no TTA"]["val_f1"] == pytest.approx(row["val_f1"], abs=1e-6)  # inference loads it


def test_checkpoint_averaged_without_average_last_is_one_clear_line(tiny_overrides, tmp_path, capsys):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    with pytest.raises(SystemExit) as stop:
        inference.main(["--run", str(run), "--checkpoint", "averaged"])
    assert stop.value.code == 2
    assert "'averaged' needs weights averaged in training: set average_last" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["average_last"] == 0
    with pytest.raises(UserError, match="checkpoint"):
        load(overrides=["checkpoint='averaged'"])
    # a run trained with average_last whose averaged.pt is gone (stopped before the average was made)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "average_last": 2}))
    with pytest.raises(SystemExit):
        inference.main(["--run", str(run), "--checkpoint", "averaged"])
    assert "no averaged.pt" in capsys.readouterr().err
