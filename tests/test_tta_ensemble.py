"""TTA views and soft-voting ensembles in inference.py."""
import numpy as np
import pandas as pd
import pytest
import torch

import inference
import train
from base.errors import UserError
from data_loader.layout import read_eval
from model.tta import VIEWS, build_views
from predict import predictor

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def test_views_are_deterministic_and_keep_the_shape():
    images = torch.randn(2, 3, 32, 24)
    for name in VIEWS.names():
        view = VIEWS.get(name)(mean=MEAN, std=STD)
        out = view(images)
        assert out.shape == images.shape and torch.equal(out, view(images))
    assert torch.equal(VIEWS.get("flip")()(images), images.flip(-1))
    shifted = VIEWS.get("shift")()(images)
    assert torch.equal(shifted[..., 1:], images[..., :-1]) and torch.equal(shifted[..., 0], images[..., 0])  # 5% of 24


def test_brightness_view_brightens_pixels_through_the_normalisation():
    pixels = torch.rand(1, 3, 8, 8)
    m, s = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
    view = VIEWS.get("brightness")(mean=MEAN, std=STD)
    assert torch.allclose(view((pixels - m) / s), (1.1 * pixels - m) / s, atol=1e-6)


def test_tta_args_give_a_view_its_own_arguments_and_refuse_misspelt_ones():
    images = torch.rand(1, 3, 20, 20)
    default = build_views(["scale"], MEAN, STD)[1]
    zoomed = build_views(["scale"], MEAN, STD, {"scale": {"zoom": 2.0}})[1]
    assert torch.equal(zoomed(images), VIEWS.get("scale")(zoom=2.0)(images))
    assert not torch.equal(zoomed(images), default(images))
    with pytest.raises(UserError, match="'tta_args': TTA view 'scale' takes no argument 'zom'; it takes zoom"):
        build_views(["scale"], MEAN, STD, {"scale": {"zom": 2.0}})
    with pytest.raises(UserError, match="TTA view 'brightness' takes no argument 'mean'; it takes gain"):
        build_views(["brightness"], MEAN, STD, {"brightness": {"mean": [0, 0, 0]}})


def test_unknown_view_lists_the_known():
    with pytest.raises(UserError, match="unknown TTA view 'rotate'; known: brightness, flip, scale, shift"):
        build_views(["rotate"], MEAN, STD)


def test_flip_tta_averages_the_plain_and_flipped_predictions(tiny_overrides, tiny_data, tmp_path):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    model = predictor.load(run)
    table = read_eval(tiny_data).head(10)
    plain, both = model.predict(table), model.predict(table, ["flip"])
    trainer = model.trainer
    images = trainer.to_device(torch.stack([trainer.loader(table, train=False).dataset[i][0] for i in range(10)]))
    with torch.no_grad():
        flipped = trainer.probabilities(trainer.model(images.flip(-1))).numpy()
    assert np.allclose(both, (plain + flipped) / 2, atol=1e-5)


def test_ensemble_is_the_weighted_mean_and_writes_probabilities(tiny_overrides, tmp_path):
    train.main(_sets(tiny_overrides + ["name=a"]))
    train.main(_sets(tiny_overrides + ["name=b", "trainer=multihead"]))
    a, b = sorted((tmp_path / "runs").iterdir())
    out = tmp_path / "out"
    for name, runs in (("a", [a]), ("b", [b])):
        inference.main([*sum((["--run", str(r)] for r in runs), []), "--out", str(out / f"{name}.csv")])
    inference.main(["--run", str(a), "--run", str(b), "--weights", "3", "1", "--out", str(out / "ab.csv"),
                    "--offsets", "off"])  # the plain argmax of the weighted mean
    pa, pb, pab = (pd.read_csv(out / f"{n}_probs.csv") for n in ("a", "b", "ab"))
    cols = [f"p{c}" for c in range(18)]
    assert pab["ImageID"].equals(pa["ImageID"])
    assert np.allclose(pab[cols], 0.75 * pa[cols] + 0.25 * pb[cols], atol=1e-6)
    assert (pd.read_csv(out / "ab.csv")["ans"] == pab[cols].to_numpy().argmax(1)).all()


def test_evaluate_mode_reports_without_and_with_tta(tiny_overrides, tmp_path, capsys):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    result = inference.main(["--run", str(run), "--evaluate", "--tta", "flip,scale"])
    assert set(result) == {"no TTA", "TTA flip+scale"}
    err = capsys.readouterr().err
    assert "(84 images, no TTA): macro F1" in err and "(84 images, TTA flip+scale)" in err
    assert not (tmp_path / "submission.csv").exists()


def test_weights_must_match_runs(tiny_overrides, tmp_path, capsys):
    train.main(_sets(tiny_overrides))
    (run,) = (tmp_path / "runs").iterdir()
    with pytest.raises(SystemExit):
        inference.main(["--run", str(run), "--weights", "1", "2", "--out", str(tmp_path / "s.csv")])
    assert "--weights: give one weight per --run (1), got 2" in capsys.readouterr().err
