"""The person vote's guard: it votes where validation shows a gain, and changes nothing where
the sittings cannot be grouped (pictures shuffled between persons), saying so."""
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import inference
import train
from base import config as config_lib
from data_loader.demo_data import generate
from data_loader.labels import MASK_STEMS
from data_loader.split import load_split
from predict import person_vote, vote_guard

PERSONS = 160


def shuffle_sittings(root, out, seed=0):
    """A copy of a demo layout whose persons' pictures come from other persons: each stem's
    pictures are permuted across the person folders, so the folder (the person, with its gender
    and age) no longer says whose face a picture shows, and no grouping from pixels can find it."""
    shutil.copytree(root, out)
    folders = sorted(p for p in (out / "train" / "images").iterdir() if p.is_dir())
    rng = np.random.default_rng(seed)
    for stem in MASK_STEMS:
        files = [next(f.glob(stem + ".*")) for f in folders]
        data = [f.read_bytes() for f in files]
        for f, k in zip(files, rng.permutation(len(files)), strict=True):
            f.write_bytes(data[k])  # extensions may differ; the decoders read the bytes, not the name
    return out


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard") / "demo"
    generate(root, PERSONS, 10, (48, 48), seed=1)
    return root, shuffle_sittings(root, root.with_name("shuffled"))


def informative_probs(labels, seed=0):
    """Probabilities of a model that knows each picture's class about half the time, its
    pictures erring independently: the case a vote over true persons helps."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.3, (len(labels), 18))
    logits[np.arange(len(labels)), labels] += 1.8
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


def _validation(root):
    cfg = config_lib.load(overrides=[f"data_dir={str(root)!r}", "seed=42"])
    _, val, _ = load_split(cfg)
    return cfg, val, informative_probs(val["official_label"].to_numpy())


def test_guard_votes_where_sittings_group(layouts):
    cfg, val, probs = _validation(layouts[0])
    decision = vote_guard.decide(cfg, val, probs, "vote")
    assert decision.acts, decision.line()
    assert decision.figures["ari"] >= 0.9 and decision.figures["chosen_f1"] > decision.figures["base_f1"]
    assert "applied" in decision.line() and f"{decision.figures['base_f1']:.4f}" in decision.line()


def test_guard_turns_down_a_vote_on_ungroupable_sittings(layouts):
    cfg, val, probs = _validation(layouts[1])
    oracle = person_vote.vote(probs, val["person"].to_numpy()).argmax(1)
    labels = val["official_label"].to_numpy()
    assert vote_guard.macro_f1(labels, oracle) > vote_guard.macro_f1(labels, probs.argmax(1))  # true persons help
    decision = vote_guard.decide(cfg, val, probs, "assign")
    assert not decision.acts and decision.strength == 0
    assert decision.figures["ari"] < 0.2
    assert decision.line().startswith("person vote assign: turned down")
    assert np.array_equal(person_vote.vote(probs, np.zeros(len(probs)), strength=decision.strength), probs)


def test_macro_f1_is_scikit_learns():
    from model.metric import macro_f1

    rng = np.random.default_rng(0)
    truth, pred = rng.integers(0, 18, 500), rng.integers(0, 17, 500)
    truth[truth == 5] = 6  # a class only predicted, one never seen
    assert vote_guard.macro_f1(truth, pred) == pytest.approx(macro_f1(truth, pred))


def test_strength_mixes_own_and_group_evidence():
    probs = informative_probs(np.arange(14) % 18, seed=3)
    groups = np.repeat([0, 1], 7)
    assert np.allclose(person_vote.vote(probs, groups, strength=0), probs)
    full, half = person_vote.vote(probs, groups), person_vote.vote(probs, groups, strength=0.5)
    own, shared = person_vote.split(probs)[1], person_vote.split(full)[1]
    expected = np.sqrt(own * shared)
    assert np.allclose(person_vote.split(half)[1], expected / expected.sum(1, keepdims=True))


def _sets(overrides):
    return [a for k, v in overrides.items() for a in ("--set", f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}")]


def test_inference_on_ungroupable_sittings_changes_nothing_and_says_so(layouts, tmp_path, capsys):
    root = layouts[1]
    train.main(_sets({"data_dir": str(root), "runs_dir": str(tmp_path / "runs"), "backbone": "test_resnet",
                      "image_size": (32, 32), "batch_size": 64, "epochs": 1, "num_workers": 0, "plots": False,
                      "seed": 42}))
    (run,) = (tmp_path / "runs").iterdir()
    assert (run / "val_probs.csv").is_file()
    inference.main(["--run", str(run), "--out", str(tmp_path / "plain.csv")])
    capsys.readouterr()
    out = tmp_path / "new" / "voted.csv"  # a folder that does not exist yet: made before any work
    inference.main(["--run", str(run), "--out", str(out), "--person-vote", "vote"])
    err = capsys.readouterr().err
    assert "person vote vote: turned down" in err
    assert pd.read_csv(out).equals(pd.read_csv(tmp_path / "plain.csv"))
    assert not out.with_name("voted_groups.csv").exists()
    stored = json.loads((run / vote_guard.FILE).read_text())
    assert stored["strength"] == 0 and stored == json.loads(out.with_name("voted_vote.json").read_text())
    inference.main(["--run", str(run), "--out", str(tmp_path / "again.csv"), "--person-vote", "vote"])
    assert "decided from validation earlier" in capsys.readouterr().err  # the run folder's decision, reused
    inference.main(["--run", str(run), "--out", str(tmp_path / "forced.csv"), "--person-vote", "vote",
                    "--person-vote-guard", "off"])
    assert "person vote vote: applied in full: unguarded" in capsys.readouterr().err
    assert (tmp_path / "forced_groups.csv").is_file()


def test_stored_validation_probabilities_older_than_best_pt_are_not_used(tmp_path):
    from logger import val_probs

    table = pd.DataFrame({"file": [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")], "person": ["1", "2"],
                          "official_label": [0, 7]})
    probs = informative_probs(table["official_label"].to_numpy())
    (tmp_path / "best.pt").write_bytes(b"")
    val_probs.write(tmp_path, table, probs, tmp_path)
    assert np.allclose(val_probs.read(tmp_path, table.iloc[::-1], tmp_path), probs[::-1], atol=1e-6)
    (tmp_path / "best.pt").write_bytes(b"newer")  # a best epoch whose probabilities were never written
    future = (tmp_path / "val_probs.csv").stat().st_mtime_ns + 10**9
    os.utime(tmp_path / "best.pt", ns=(future, future))
    assert val_probs.read(tmp_path, table, tmp_path) is None


def test_k_fold_out_of_fold_tables_keep_most_persons_for_the_grouping():
    table = pd.DataFrame({"person": np.repeat(np.arange(100), 7)})
    assert len(vote_guard.evaluation_persons(table, 100, seed=0)) == 25  # all are validation persons: a quarter
    assert len(vote_guard.evaluation_persons(table.iloc[:140], 100, seed=0)) == 20  # one fold's 20: all of them


def test_an_ensemble_of_runs_that_share_no_validation_persons_does_not_vote(layouts, tmp_path, capsys):
    runs = []
    for fold in (0, 1):  # one split, two held-out folds: no person in both
        train.main(_sets({"data_dir": str(layouts[0]), "runs_dir": str(tmp_path / f"runs{fold}"),
                          "backbone": "test_resnet", "image_size": (32, 32), "batch_size": 64, "epochs": 1,
                          "num_workers": 0, "plots": False, "fold": fold}))
        runs += ["--run", str(next((tmp_path / f"runs{fold}").iterdir()))]
    inference.main([*runs, "--out", str(tmp_path / "plain.csv")])
    capsys.readouterr()
    inference.main([*runs, "--out", str(tmp_path / "voted.csv"), "--person-vote", "assign"])
    assert "turned down: these runs share no validation persons" in capsys.readouterr().err
    assert pd.read_csv(tmp_path / "voted.csv").equals(pd.read_csv(tmp_path / "plain.csv"))


def test_the_evaluate_line_gives_a_share_of_the_oracle_only_when_the_oracle_gains():
    from predict.evaluation import oracle_share

    assert oracle_share(0.50, 0.52, 0.54) == "50% of the oracle's gain"
    both_lose = oracle_share(0.50, 0.44, 0.45)  # was "110% of the oracle's gain"
    assert "%" not in both_lose and "-0.0500" in both_lose
