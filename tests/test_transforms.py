import albumentations as A
import numpy as np
import pytest
import torch

from base import config as config_lib
from base.errors import UserError
from data_loader.transforms import PRESETS, build_transform, normalize

CFG = config_lib.load(overrides=["image_size=40,32"])
IMAGE = np.random.default_rng(0).integers(0, 255, (128, 96, 3), dtype=np.uint8)


def _names(compose):
    out = []
    for t in compose.transforms:
        out += [type(t).__name__] + (_names(t) if isinstance(t, A.BaseCompose) else [])
    return out


@pytest.mark.parametrize("preset", PRESETS.names())
@pytest.mark.parametrize("resize", ["stretch", "pad", "crop"])
def test_every_preset_and_resize_gives_the_configured_size(preset, resize):
    cfg = CFG.replace(augment=preset, resize=resize, augment_ops=[{"name": "GaussNoise", "p": 1.0}])
    for train in (True, False):
        out = build_transform(cfg, train)(image=IMAGE)["image"]
        assert tuple(out.shape) == (3, 40, 32)


def test_no_preset_flips_faces_upside_down_and_strong_has_cutout():
    for preset in PRESETS.names():
        names = _names(build_transform(CFG.replace(augment=preset), train=True))
        assert "VerticalFlip" not in names and "Transpose" not in names
    assert "CoarseDropout" in _names(build_transform(CFG.replace(augment="strong"), train=True))


def test_validation_pipeline_is_deterministic_whatever_the_preset():
    for preset in PRESETS.names():
        t = build_transform(CFG.replace(augment=preset), train=False)
        assert _names(t) == ["Resize", "ToTensorV2"]
        assert (t(image=IMAGE)["image"] == t(image=IMAGE)["image"]).all()


def test_batch_normalisation_matches_albumentations():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expected = A.Normalize(mean=mean, std=std)(image=IMAGE)["image"]
    batch = torch.from_numpy(IMAGE).permute(2, 0, 1)[None]
    assert torch.allclose(normalize(batch, mean, std)[0].permute(1, 2, 0), torch.from_numpy(expected), atol=1e-5)


def test_custom_ops_are_built_by_name_and_bad_ones_fail_with_the_item():
    cfg = CFG.replace(augment="custom", augment_ops=[{"name": "CLAHE", "p": 0.2}, {"name": "ToGray", "p": 0.1}])
    assert _names(build_transform(cfg, True))[:3] == ["Resize", "HorizontalFlip", "CLAHE"]
    with pytest.raises(UserError, match="item 1: 'Blurr' is not an albumentations transform"):
        build_transform(CFG.replace(augment="custom", augment_ops=[{"name": "CLAHE"}, {"name": "Blurr"}]), True)
    with pytest.raises(UserError, match="item 0 \\(GaussNoise\\)"):
        build_transform(CFG.replace(augment="custom", augment_ops=[{"name": "GaussNoise", "sigma": 3}]), True)
