"""The first command on real data trains what its name promises: a GPU preset for the
competition's photos, and a warning when a CPU-sized input would shrink large photos."""
import ast
import re
from pathlib import Path

import train
from base import config as config_lib
from data_loader.demo_data import generate
from data_loader.photo_size import too_small_warning

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ("trainer", "age_thresholds", "age_target", "loss", "class_weights", "ema", "tta")


def test_the_gpu_preset_is_competition_sized_with_the_best_recipe():
    cfg = config_lib.load(ROOT / "configs" / "competition_best.py")
    recipe = config_lib.load(ROOT / "configs" / "best_pretrained.py")
    assert (cfg.backbone, tuple(cfg.image_size), cfg.pretrained) == ("efficientnet_b0", (384, 288), True)
    assert {k: cfg[k] for k in RECIPE} == {k: recipe[k] for k in RECIPE}


def test_cpu_presets_say_first_what_model_and_size_they_assume():
    for name in ("best.py", "best_pretrained.py", "fast.py"):
        first = ast.get_docstring(ast.parse((ROOT / "configs" / name).read_text())).splitlines()[0]
        assert "resnet10t" in first and "64x48" in first and "configs/competition_best.py" in first, name


def test_readmes_first_real_data_command_is_the_gpu_preset():
    section = (ROOT / "README.md").read_text().split("## Your own data", 1)[1]
    first = re.search(r"^python train\.py .*$", section, re.M)[0]
    assert "--config configs/competition_best.py" in first


def test_large_photos_at_a_small_input_get_one_warning_naming_the_preset(tmp_path, tiny_overrides, capsys):
    data = tmp_path / "large"
    generate(data, persons=10, eval_persons=1, size=(256, 192), seed=0)
    files = sorted(str(p) for p in (data / "train" / "images").rglob("*.*"))
    assert "configs/competition_best.py" in too_small_warning(files, (64, 48))
    assert too_small_warning(files, (128, 96)) is None  # 4x the pixels: a sensible input
    assert too_small_warning(files, (64, 48), face_crop="haar") is None  # the crop keeps the face only
    sets = [a for o in [*tiny_overrides, f"data_dir='{data}'", "image_size=(32,32)", "folds=2"] for a in ("--set", o)]
    capsys.readouterr()
    train.main(sets)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: the photos")]
    assert len(warnings) == 1 and "256x192" in warnings[0] and "--config configs/competition_best.py" in warnings[0]
