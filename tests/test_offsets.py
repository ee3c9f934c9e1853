"""Decision offsets: fitted for macro F1 on validation persons, never lowering the macro F1 they
are fitted on, applied only when they gain on persons they were not fitted on, and applied the
same way to a single run, an ensemble and TTA."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import inference
import train
from predict import offsets as offsets_lib
from predict.vote_guard import macro_f1


def _imbalanced(n_persons: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Validation-like pictures whose rare age group (>=60) the model under-calls."""
    rng = np.random.default_rng(seed)
    age = rng.choice(3, n_persons, p=[0.6, 0.33, 0.07])
    persons = np.repeat(np.arange(n_persons), 7)
    mask = np.tile([0, 0, 0, 0, 0, 1, 2], n_persons)
    gender = np.repeat(rng.integers(0, 2, n_persons), 7)
    truth = mask * 6 + gender * 3 + np.repeat(age, 7)
    logits = rng.normal(0, 1.0, (len(truth), 18))
    logits[np.arange(len(truth)), truth] += 2.0
    logits[:, 2::3] -= 1.5  # every >=60 class is too unlikely
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return pd.DataFrame({"person": persons.astype(str), "official_label": truth}), probs


@pytest.mark.parametrize("mode", ["head", "class"])
def test_fitted_offsets_never_lower_the_macro_f1_they_are_fitted_on(mode):
    table, probs = _imbalanced()
    truth, log_probs = table["official_label"].to_numpy(), np.log(probs)
    for rows in (slice(None), slice(0, 700), slice(700, None)):
        params = offsets_lib.fit(log_probs[rows], truth[rows], mode)
        moved = (log_probs[rows] + offsets_lib.per_class(mode, params)).argmax(1)
        assert macro_f1(truth[rows], moved) >= macro_f1(truth[rows], log_probs[rows].argmax(1))


def test_head_offsets_lift_the_rare_class_on_persons_they_were_not_fitted_on():
    table, probs = _imbalanced()
    fitted = offsets_lib.decide(table, probs, "head")
    assert fitted.acts and fitted.figures["gain"] > 0 and fitted.figures["gain_60"] > 0
    assert fitted.params["age"][2] > fitted.params["age"][0]  # toward >=60
    assert len(fitted.values) == 18 and fitted.values[2] == pytest.approx(sum(
        fitted.params[h][i] for h, i in (("mask", 0), ("gender", 0), ("age", 2))), abs=1e-3)


def test_offsets_that_do_not_gain_on_held_out_persons_are_not_applied():
    table, probs = _imbalanced()
    truth = table["official_label"].to_numpy()
    fair = np.full_like(probs, 0.01)
    fair[np.arange(len(truth)), truth] = 1.0  # a perfect model: nothing to gain
    fitted = offsets_lib.decide(table, fair / fair.sum(1, keepdims=True), "head")
    assert not fitted.acts and fitted.figures["gain"] <= 0
    assert np.array_equal(fitted.apply(probs), probs)


@pytest.fixture(scope="module")
def trained_run(tiny_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("offset_runs")
    train.main([f"data_dir={str(tiny_data)!r}", f"runs_dir={str(runs)!r}", "backbone=test_resnet",
                "image_size=32,32", "batch_size=16", "epochs=2", "folds=3", "num_workers=0", "plots=False"])
    return next(runs.iterdir())


@pytest.mark.parametrize("extra", [[], ["--tta", "flip"]])
def test_offsets_are_applied_alike_to_a_run_an_ensemble_and_tta(trained_run, tmp_path, extra, monkeypatch):
    fitted_on = []

    def strong(table, probs, mode, seed=0):  # offsets that act, whatever a tiny model's validation says
        fitted_on.append(probs.copy())
        values = [3.0 if c % 3 == 2 else 0.0 for c in range(18)]
        return offsets_lib.Offsets(mode, values, {"class": values}, {"persons": 0}, "test")

    monkeypatch.setattr(offsets_lib, "decide", strong)
    (trained_run / offsets_lib.FILE).unlink(missing_ok=True)
    single, pair = tmp_path / "single.csv", tmp_path / "pair.csv"
    inference.main(["--run", str(trained_run), "--offsets", "class", "--out", str(single), *extra])
    kept = offsets_lib.Offsets.load(trained_run / offsets_lib.FILE)
    assert kept is not None and kept.key["tta"] == [v for v in extra[1:]]
    probs = pd.read_csv(tmp_path / "single_probs.csv").filter(like="p").to_numpy()
    expected = kept.apply(probs).argmax(1)
    assert np.array_equal(pd.read_csv(single)["ans"].to_numpy(), expected) and not np.array_equal(
        expected, probs.argmax(1))
    inference.main(["--run", str(trained_run), "--run", str(trained_run), "--offsets", "class", "--out", str(pair),
                    *extra])
    assert pd.read_csv(pair)["ans"].equals(pd.read_csv(single)["ans"])
    assert len(fitted_on) == 2 and np.allclose(fitted_on[0], fitted_on[1])  # one validation, single or ensembled
    assert json.loads((trained_run / offsets_lib.FILE).read_text())["mode"] == "class"
