import hashlib

import numpy as np
import pandas as pd

from data_loader import demo_data
from data_loader.labels import MASK_STEMS


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_arguments_give_the_same_bytes(tmp_path):
    demo_data.generate(tmp_path / "a", 12, 2, (64, 48), seed=3)
    demo_data.generate(tmp_path / "b", 12, 2, (64, 48), seed=3)
    demo_data.generate(tmp_path / "c", 12, 2, (64, 48), seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_layout_matches_the_competition(tiny_data):
    persons = pd.read_csv(tiny_data / "train" / "train.csv", dtype=str)
    assert list(persons.columns) == ["id", "gender", "race", "age", "path"]
    extensions = set()
    for row in persons.itertuples():
        assert row.path == f"{row.id}_{row.gender}_{row.race}_{row.age}"
        files = sorted((tiny_data / "train" / "images" / row.path).iterdir())
        assert sorted(f.stem for f in files) == sorted(MASK_STEMS)
        extensions |= {f.suffix for f in files}
    assert extensions == {".jpg", ".jpeg", ".png"}
    info = pd.read_csv(tiny_data / "eval" / "info.csv")
    answers = pd.read_csv(tiny_data / "eval" / "answers.csv")
    assert list(info.columns) == ["ImageID", "ans"] and (info["ans"] == 0).all()
    assert info["ImageID"].tolist() == answers["ImageID"].tolist()
    assert len(info) == 4 * 7 and all((tiny_data / "eval" / "images" / i).is_file() for i in info["ImageID"])


def test_ages_and_genders_follow_the_competition_shares():
    rng = np.random.default_rng(0)
    people = [demo_data._person(rng, i) for i in range(4000)]
    ages = np.array([p.age for p in people])
    assert 0.05 < (ages >= 60).mean() < 0.09
    assert 0.43 < (ages < 30).mean() < 0.51
    assert 0.57 < np.mean([p.gender == "female" for p in people]) < 0.65


def test_demo_dir_is_made_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MASK18_CACHE", str(tmp_path / "cache"))
    first = demo_data.demo_dir(10, 1, (64, 48), seed=0)
    assert first.parent == tmp_path / "cache" and (first / "eval" / "answers.csv").is_file()
    stamp = (first / "train" / "train.csv").stat().st_mtime_ns
    assert demo_data.demo_dir(10, 1, (64, 48), seed=0) == first
    assert (first / "train" / "train.csv").stat().st_mtime_ns == stamp
    assert not list((tmp_path / "cache").glob("*.tmp"))
