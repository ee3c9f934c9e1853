"""Backbones: any `timm.create_model` name, or a torchvision classification model as
"tv:<name>" (e.g. "tv:mobilenet_v2", "tv:resnet50"); random, hub or local-file weights."""
from __future__ import annotations

import difflib
from pathlib import Path

import timm
import torch
from torch import nn

from base.errors import UserError

TORCHVISION = "tv:"


def create_backbone(name: str, pretrained: bool = False, weights_file: str = "") -> nn.Module:
    """A feature extractor (pooled features, no classifier) with a `num_features` attribute.

    `weights_file` (a local .pth/.bin/.safetensors of the model, classifier included or not) wins
    over `pretrained` and needs no network; the classifier weights are dropped when loading.
    """
    path = None
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise UserError(f"config knob 'weights_file': {path} not found; give a local weights file or ''")
    if name.startswith(TORCHVISION):
        return _torchvision(name[len(TORCHVISION):], pretrained, path)
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models(), or tv:<name>"
        raise UserError(f"config knob 'backbone': unknown timm model {name!r}{hint}")
    if path:
        return _create(name, True, pretrained_cfg_overlay={"file": str(path)}, source=str(path), file=path)
    return _create(name, pretrained, source="the model hub")


def _create(name: str, pretrained: bool, source: str, file: Path | None = None, **kwargs) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs)
    except Exception as err:  # network, hub and file errors come in many types
        if not pretrained:
            raise
        raise _weights_error(name, source, err, file) from None


def _weights_error(name: str, source: str, err: Exception, file: Path | None = None) -> UserError:
    reason = str(err).splitlines()[0].split(". ")[0][:160] if str(err) else type(err).__name__
    if file is not None and _unreadable(file):  # most often a download cut short
        return UserError(f"config knob 'weights_file': {file} is not a readable weights file ({reason}); "
                         "if it was cut short, download it again, or set weights_file=''")
    return UserError(f"could not load pretrained weights for {name!r} from {source} ({reason}); "
                     "set pretrained=False, or weights_file to a local weights file")


def _read_weights(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _unreadable(path: Path) -> bool:
    """Whether the file itself is broken (rather than the weights of another model)."""
    try:
        _read_weights(path)
    except Exception:  # torch and safetensors report a cut file in several types
        return True
    return False


def _torchvision(name: str, pretrained: bool, path: Path | None) -> nn.Module:
    """A torchvision classifier with its last Linear layer replaced by the identity."""
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(TORCHVISION + c for c in close)}?" if close else ""
        raise UserError(f"config knob 'backbone': unknown torchvision model {name!r}{hint}")
    full = f"{TORCHVISION}{name}"
    try:
        model = torchvision.models.get_model(name, weights="DEFAULT" if pretrained and not path else None)
    except Exception as err:
        if not pretrained:
            raise
        raise _weights_error(full, "the torchvision download", err) from None
    owner, attr, linear = _last_linear(model)
    dropped = {f"{k}.{p}" for k in _module_names(model, linear) for p in ("weight", "bias")}
    setattr(owner, attr, nn.Identity())
    model.num_features = linear.in_features
    if path:
        _load(model, path, dropped, full)
    return model


def _last_linear(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """(parent module, attribute name, layer) of the last nn.Linear: the classifier's output."""
    found = None
    for parent in model.modules():
        for attr, child in parent.named_children():
            if isinstance(child, nn.Linear):
                found = (parent, attr, child)
    if found is None:
        raise UserError("config knob 'backbone': this torchvision model has no Linear classifier to remove")
    return found


def _module_names(model: nn.Module, target: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if module is target]


def _load(model: nn.Module, path: Path, dropped: set[str], name: str) -> None:
    try:
        state = _read_weights(path)
    except Exception as err:
        raise _weights_error(name, str(path), err, path) from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {k: v for k, v in state.items() if k not in dropped}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        bad = (missing or unexpected)[:2]
        raise UserError(f"config knob 'weights_file': {path} does not fit backbone {name!r} "
                        f"({len(missing)} weights missing, {len(unexpected)} unexpected, e.g. {', '.join(bad)}); "
                        "give the weights of that model")
