"""The person vote: grouping the eval pictures into persons, voting inside groups, 5/1/1 masks."""
import hashlib

import cv2
import numpy as np
import pandas as pd
import pytest

import inference
import train
from base import config as config_lib
from data_loader.demo_data import generate
from data_loader.labels import MASK_STEMS, decode, encode
from data_loader.layout import read_eval
from predict import person_groups, person_vote

PERSONS, EVAL_PERSONS = 120, 30


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


@pytest.fixture(scope="module")
def demo_eval(tmp_path_factory):
    """A demo layout of 120 training and 30 eval persons, and the true person of every eval picture
    (demo_data.py names eval pictures sha1("<seed>-<person id>-<stem>"))."""
    root = tmp_path_factory.mktemp("vote") / "demo"
    generate(root, PERSONS, EVAL_PERSONS, (64, 48), seed=0)
    person = {hashlib.sha1(f"0-{1 + (PERSONS + i) * 3:06d}-{stem}".encode()).hexdigest() + ".jpg": i
              for i in range(EVAL_PERSONS) for stem in MASK_STEMS}
    table = read_eval(root)
    return root, table, table["ImageID"].map(person).to_numpy()


def test_grouping_recovers_the_persons_of_a_demo_eval_set(demo_eval):
    root, table, truth = demo_eval
    grouper = person_groups.for_config(config_lib.load(overrides=[f"data_dir={str(root)!r}"]))
    groups = grouper.groups(table["file"].tolist())
    quality = person_groups.quality(groups, truth)
    assert quality["ari"] >= 0.9, quality
    assert quality["pure"] >= 0.95 and len(groups) == len(table)
    # the discriminant step is what groups the drawn sittings: PCA alone scores far lower
    plain = person_groups._unit(grouper.pca.transform(person_groups.features(table["file"].tolist())))
    tree = person_groups._tree(plain)
    best_plain = max(person_groups.quality(person_groups._cut(tree, len(plain), c), truth)["ari"]
                     for c in person_groups.CUTS)
    assert best_plain < quality["ari"] - 0.1


def test_grouping_uses_pixels_not_names_or_order(demo_eval, tmp_path):
    root, table, truth = demo_eval
    grouper = person_groups.for_config(config_lib.load(overrides=[f"data_dir={str(root)!r}"]))
    order = np.random.default_rng(3).permutation(len(table))
    renamed = []
    for k, i in enumerate(order):  # shuffled and renamed: a grouping must not change
        target = tmp_path / f"{k:05d}.jpg"
        target.write_bytes(open(table["file"][i], "rb").read())
        renamed.append(str(target))
    again = grouper.groups(renamed)
    assert person_groups.quality(again, truth[order])["ari"] >= 0.9
    assert person_groups.quality(again, grouper.groups(table["file"].tolist())[order])["ari"] >= 0.95


def _probs(rng, n):
    p = rng.random((n, 18)) + 1e-3
    return p / p.sum(1, keepdims=True)


def test_vote_gives_every_group_one_gender_and_age_and_keeps_masks():
    rng = np.random.default_rng(0)
    probs = _probs(rng, 30)
    groups = np.repeat(np.arange(6), 5)
    groups[-1] = 99  # a group of one
    voted = person_vote.vote(probs, groups)
    assert np.allclose(voted.sum(1), 1)
    mask, gender, age = decode(voted.argmax(1))
    for g in np.unique(groups):
        members = groups == g
        assert len(set(gender[members])) == 1 and len(set(age[members])) == 1
    assert np.allclose(person_vote.split(voted)[0][:-1], person_vote.split(probs)[0][:-1])  # each its own P(mask)
    assert np.allclose(voted[-1], probs[-1])  # a group of one changes nothing
    # the group decides by the mean log-probability of its (gender, age): three sure pictures win
    sure = np.zeros((4, 18))
    sure[:3, encode(0, 1, 2)] = 0.9
    sure[:3, encode(0, 0, 0)] = 0.1
    sure[3, encode(0, 0, 0)] = 0.6
    sure[3, encode(0, 1, 2)] = 0.4
    assert set(person_vote.vote(sure, np.zeros(4)).argmax(1)) == {encode(0, 1, 2)}


def test_mask_assignment_gives_five_one_one_to_a_group_of_seven():
    rng = np.random.default_rng(1)
    probs = _probs(rng, 13)
    cube = probs.reshape(13, 3, 6)
    cube[:7, 0] *= 50  # the model thinks all seven pictures of the first group are worn masks
    probs = cube.reshape(13, 18) / cube.reshape(13, 18).sum(1, keepdims=True)
    groups = np.array([0] * 7 + [1] * 6)
    masks = decode(person_vote.vote(probs, groups, assign=True).argmax(1))[0]
    assert sorted(masks[:7]) == [0, 0, 0, 0, 0, 1, 2]
    # a group of six keeps each picture's own mask
    assert np.array_equal(masks[7:], person_vote.split(probs)[0][7:].argmax(1))
    # the assignment is the most probable one: the least worn-looking picture gets "none"
    sitting = person_vote.assign_masks(person_vote.split(probs)[0][:7])
    none = person_vote.split(probs)[0][:7, 2] / person_vote.split(probs)[0][:7, 0]
    assert sitting[np.argmax(none)] in (1, 2)


def test_submission_keeps_info_rows_and_writes_the_groups(demo_eval, tmp_path):
    root, table, truth = demo_eval
    sets = {"data_dir": str(root), "runs_dir": str(tmp_path / "runs"), "backbone": "test_resnet",
            "image_size": (32, 32), "batch_size": 32, "epochs": 1, "num_workers": 0, "plots": False,
            "person_vote": "assign", "person_vote_guard": False}  # the vote's mechanics: unguarded
    train.main(_sets([f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in sets.items()]))
    (run,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "sub.csv"
    inference.main(["--run", str(run), "--out", str(out)])  # person_vote from the run's config
    info = pd.read_csv(root / "eval" / "info.csv")
    sub, groups = pd.read_csv(out), pd.read_csv(tmp_path / "sub_groups.csv")
    assert sub["ImageID"].tolist() == info["ImageID"].tolist() == groups["ImageID"].tolist()
    assert person_groups.quality(groups["group"].to_numpy(), truth)["ari"] >= 0.9
    assert (groups.groupby("group").size() == groups.groupby("group")["group_size"].first()).all()
    for _, members in sub.groupby(groups["group"]):  # one gender and age per group
        assert members["ans"].mod(6).nunique() == 1
        if len(members) == 7:
            assert sorted(members["ans"] // 6) == [0, 0, 0, 0, 0, 1, 2]
    plain = tmp_path / "plain.csv"
    inference.main(["--run", str(run), "--out", str(plain), "--person-vote", "off"])
    assert not (tmp_path / "plain_groups.csv").exists()


def test_evaluate_reports_grouping_and_the_oracle(demo_eval, tmp_path):
    root, _, _ = demo_eval
    sets = {"data_dir": str(root), "runs_dir": str(tmp_path / "runs"), "backbone": "test_resnet",
            "image_size": (32, 32), "batch_size": 32, "epochs": 1, "num_workers": 0, "plots": False}
    train.main(_sets([f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in sets.items()]))
    (run,) = (tmp_path / "runs").iterdir()
    result = inference.main(["--run", str(run), "--evaluate", "--person-vote", "vote", "--tta", "none"])
    assert result["grouping"]["ari"] >= 0.8  # 24 validation persons, learnt from the other 96
    assert result["guard"]["mode"] == "vote" and "base_f1" in result["guard"]["figures"]  # what inference would do
    rows = result["no TTA"]["vote"]
    assert set(rows) == {"vote found", "vote oracle", "assign found", "assign oracle"}
    # with the true persons, every person's pictures share one gender and age: never worse in those
    assert rows["vote oracle"]["val_f1"] >= result["no TTA"]["val_f1"] - 0.05


def test_a_picture_and_its_mirror_embed_alike(demo_eval, tmp_path):
    root, table, _ = demo_eval
    grouper = person_groups.for_config(config_lib.load(overrides=[f"data_dir={str(root)!r}"]))
    image = person_groups.read_small(table["file"][0])
    assert np.array_equal(person_groups.raw_features(image), person_groups.raw_features(image[:, ::-1]))
    files, other = [], person_groups.read_small(table["file"][7])
    for name, picture in (("a", image), ("mirror", image[:, ::-1]), ("other", other)):
        files.append(str(tmp_path / f"{name}.png"))  # lossless: the mirror's pixels exactly
        cv2.imwrite(files[-1], cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2BGR))
    a, mirror, other = grouper.embed(files)
    assert a @ mirror == pytest.approx(1.0, abs=1e-5) and a @ other < 0.99
