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
    with pytest.raises(UserError, match=r"does not fit backbone 'tv:mobilenet_v3_small' "
                                        r"\(\d+ of its \d+ weights missing"):
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


def _tensors(model: torch.nn.Module) -> dict:
    return {k: v for k, v in model.state_dict().items()}


def test_timm_weights_of_another_model_are_counted_and_refused(tmp_path):
    """timm loads a file non-strictly once the classifier is dropped: a resnet18 file would leave a
    resnet34's extra blocks random without a word. The fit is counted before anything trains."""
    file = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), file)
    with pytest.raises(UserError, match=r"does not fit backbone 'resnet34' \(96 of its 216 weights missing, "
                                        r"0 of another shape, 0 unexpected"):
        create_backbone("resnet34", weights_file=str(file))
    with pytest.raises(UserError, match=r"does not fit backbone 'resnet10t' \(\d+ of its \d+ weights missing, "
                                        r"[1-9]\d* of another shape, [1-9]\d* unexpected"):
        create_backbone("resnet10t", weights_file=str(file))


def test_a_timm_file_with_tensors_deleted_or_extra_is_refused(tmp_path):
    state = timm.create_model("test_resnet").state_dict()
    names = list(state)
    half, extra = tmp_path / "half.pth", tmp_path / "extra.pth"
    torch.save({k: state[k] for k in names[: len(names) // 2]}, half)
    torch.save({**state, "neck.weight": torch.zeros(3)}, extra)
    with pytest.raises(UserError, match=rf"{len(names) - len(names) // 2 - 2} of its \d+ weights missing"):
        create_backbone("test_resnet", weights_file=str(half))  # minus the classifier's weight and bias
    with pytest.raises(UserError, match=r"0 of its \d+ weights missing, 0 of another shape, 1 unexpected, "
                                        r"e.g. neck.weight"):
        create_backbone("test_resnet", weights_file=str(extra))


def test_a_training_checkpoint_of_the_model_loads(tmp_path):
    torch.manual_seed(1)
    full = timm.create_model("test_resnet")
    file = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in full.state_dict().items()}}, file)
    mine = _tensors(create_backbone("test_resnet", weights_file=str(file)))
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in mine.items())


def test_a_file_in_another_naming_is_checked_after_timms_conversion(tmp_path):
    """A file whose names are not the model's goes through timm's loader (which converts the
    formats it knows); what it leaves at the random start is counted and refused."""
    file = tmp_path / "renamed.pth"
    torch.save({f"encoder.{k}": v for k, v in timm.create_model("test_resnet").state_dict().items()}, file)
    with pytest.raises(UserError, match=r"does not fit backbone 'test_resnet' \(\d+ of its \d+ weights left at "
                                        r"their random start"):
        create_backbone("test_resnet", weights_file=str(file))


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """A hub address nothing listens on, and an empty local cache of it."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_pretrained_without_a_reachable_hub_fails_at_once(unreachable_hub, monkeypatch):
    from huggingface_hub import constants

    asked = []
    real = timm.create_model
    monkeypatch.setattr(timm, "create_model", lambda *a, **k: asked.append(constants.HF_HUB_OFFLINE) or real(*a, **k))
    with pytest.raises(UserError, match=r"the model hub \(http://127.0.0.1:9\) cannot be reached and they are not "
                                        r"in its local cache; set weights_file"):
        create_backbone("test_resnet", pretrained=True)
    assert asked == [True]  # the hub library was told not to try the network (its retries take a minute)
    assert asked and not constants.HF_HUB_OFFLINE  # and set back


def test_pretrained_weights_in_the_local_cache_load_without_the_hub(unreachable_hub):
    from safetensors.torch import save_file

    torch.manual_seed(2)
    full = timm.create_model("test_resnet")
    repo = unreachable_hub / f"models--{full.pretrained_cfg['hf_hub_id'].replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(snapshot / "model.safetensors"))
    mine = _tensors(create_backbone("test_resnet", pretrained=True))
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in mine.items())
