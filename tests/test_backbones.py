"""Backbones: torchvision models by "tv:<name>" beside timm's, and local weights files for both."""
from __future__ import annotations

import pytest
import timm
import torch
import torchvision

import train
from base.errors import UserError
from model.backbone import create_backbone


def test_a_torchvision_model_becomes_a_pooled_feature_extractor():
    backbone = create_backbone("tv:mobilenet_v3_small")
    features = backbone(torch.zeros(2, 3, 32, 32))
    assert features.shape == (2, backbone.num_features) == (2, 1024)  # the layer before the ImageNet output


@pytest.mark.parametrize("name, make", [
    ("tv:mobilenet_v3_small", lambda: torchvision.models.mobilenet_v3_small()),
    ("test_resnet", lambda: timm.create_model("test_resnet")),
])
def test_a_local_weights_file_with_its_classifier_loads_without_network(name, make, tmp_path):
    torch.manual_seed(0)
    full = make().eval()
    file = tmp_path / "weights.pth"
    torch.save(full.state_dict(), file)
    backbone = create_backbone(name, weights_file=str(file)).eval()
    mine, theirs = backbone.state_dict(), full.state_dict()
    assert mine and all(torch.equal(value, theirs[key]) for key, value in mine.items())


def test_weights_of_another_model_are_one_clear_line(tmp_path):
    file = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), file)
    with pytest.raises(UserError, match=r"does not fit backbone 'tv:mobilenet_v3_small' \(\d+ weights missing"):
        create_backbone("tv:mobilenet_v3_small", weights_file=str(file))


def test_unknown_torchvision_names_get_suggestions():
    with pytest.raises(UserError, match="unknown torchvision model 'mobilenetv2'; did you mean tv:mobilenet_v2"):
        create_backbone("tv:mobilenetv2")


def test_a_failed_torchvision_download_says_what_to_set(monkeypatch):
    def offline(name, weights=None):
        if weights:
            raise OSError("<urlopen error [Errno -2] Name or service not known>")
        return torchvision.models.get_model(name)

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(UserError, match="set pretrained=False, or weights_file to a local weights file"):
        create_backbone("tv:mobilenet_v2", pretrained=True)


def test_a_run_trains_a_torchvision_backbone(tiny_overrides, tmp_path):
    sets = [a for o in tiny_overrides + ["backbone='tv:mobilenet_v3_small'"] for a in ("--set", o)]
    best = train.main(sets)
    assert 0 <= best["val_f1"] <= 1
