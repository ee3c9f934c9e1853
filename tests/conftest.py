"""Shared fixtures: a tiny demo data set made once per test session, and tiny run configs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from base import config as config_lib
from data_loader.demo_data import generate

TINY = {"demo_persons": 36, "demo_eval_persons": 4, "demo_image_size": (64, 48)}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """36 persons (252 images) and 28 eval images in the competition layout; do not modify."""
    root = tmp_path_factory.mktemp("data") / "tiny"
    generate(root, TINY["demo_persons"], TINY["demo_eval_persons"], TINY["demo_image_size"], seed=0)
    return root


@pytest.fixture
def data_copy(tiny_data, tmp_path) -> Path:
    """A private copy of the tiny data set, for tests that break it."""
    return Path(shutil.copytree(tiny_data, tmp_path / "data"))


@pytest.fixture
def tiny_overrides(tiny_data, tmp_path) -> list[str]:
    """--set arguments for a seconds-long run on the tiny data with a tiny model."""
    values = {"data_dir": str(tiny_data), "runs_dir": str(tmp_path / "runs"), "backbone": "test_resnet",
              "image_size": (32, 32), "batch_size": 16, "epochs": 1, "folds": 3, "num_workers": 0,
              "inference_batch_size": 32,
              "plots": False}  # drawing would double a tiny run; tests/test_run_artifacts.py turns it on
    return [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items()]


@pytest.fixture
def tiny_cfg(tiny_overrides) -> config_lib.Config:
    return config_lib.load(overrides=tiny_overrides)
