"""Backbones: any `timm.create_model` name, or a torchvision classification model as
"tv:<name>" (e.g. "tv:mobilenet_v2", "tv:resnet50"); random, hub or local-file weights."""
from __future__ import annotations

import difflib
from pathlib import Path

import timm
from torch import nn

from base.errors import UserError
from model import hub
from model import weights_file as local_weights

TORCHVISION = "tv:"


def create_backbone(name: str, pretrained: bool = False, weights_file: str = "") -> nn.Module:
    """A feature extractor (pooled features, no classifier) with a `num_features` attribute.

    `weights_file` (a local .pth/.bin/.safetensors of the model, classifier included or not) wins
    over `pretrained` and needs no network; the classifier weights are dropped when loading.
    """
    path = check_name(name, weights_file)
    if name.startswith(TORCHVISION):
        return _torchvision(name[len(TORCHVISION):], pretrained, path)
    if path:
        return _timm_from_file(name, path)
    if not pretrained:
        return _create(name, False, source="")
    with hub.offline_unless_reachable() as online:
        if online:
            return _create(name, True, source="the model hub")
        try:
            return timm.create_model(name, pretrained=True, num_classes=0)
        except Exception:  # not in the local cache (the hub library says so in several types)
            raise UserError(f"could not load pretrained weights for {name!r}: the model hub ({hub.endpoint()}) "
                            "cannot be reached and they are not in its local cache; set weights_file to a local "
                            "weights file (README: Real data), or pretrained=False") from None


def check_name(name: str, weights_file: str = "") -> Path | None:
    """The weights file's path (None without one), after checking that it exists and that `name`
    names a timm or torchvision model; builds nothing."""
    path = None
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise UserError(f"config knob 'weights_file': {path} not found; give a local weights file or ''")
    if name.startswith(TORCHVISION):
        _torchvision_name(name[len(TORCHVISION):])
    elif not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models(), or tv:<name>"
        raise UserError(f"config knob 'backbone': unknown timm model {name!r}{hint}")
    return path


def _create(name: str, pretrained: bool, source: str, file: Path | None = None, **kwargs) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs)
    except Exception as err:  # network, hub and file errors come in many types
        if not pretrained:
            raise
        raise _weights_error(name, source, err, file) from None


def _weights_error(name: str, source: str, err: Exception, file: Path | None = None) -> UserError:
    reason = str(err).splitlines()[0].split(". ")[0][:160] if str(err) else type(err).__name__
    if file is not None and not local_weights.readable(file):  # most often a download cut short
        return UserError(f"config knob 'weights_file': {file} is not a readable weights file ({reason}); "
                         "if it was cut short, download it again, or set weights_file=''")
    return UserError(f"could not load pretrained weights for {name!r} from {source} ({reason}); "
                     "set pretrained=False, or weights_file to a local weights file")


def _timm_from_file(name: str, path: Path) -> nn.Module:
    """A timm backbone with the file's weights, every one of its tensors accounted for."""
    state = _read(name, path)
    model = timm.create_model(name, pretrained=False, num_classes=0)
    classifiers = model.pretrained_cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else classifiers
    dropped = {f"{c}.{p}" for c in classifiers for p in ("weight", "bias")}
    fit = local_weights.Fit(model, state, dropped)
    if fit.same_naming:
        if not fit.fits:
            raise fit.refuse(path, name)
        model.load_state_dict({k: v for k, v in state.items() if k not in dropped})
        return model
    # Another naming (an original repository's checkpoint): timm's loader converts it; count what it left.
    overlay = {"pretrained_cfg_overlay": {"file": str(path)}}
    model, untouched, total = local_weights.left_at_start(
        lambda with_file: _create(name, with_file, str(path), path, **(overlay if with_file else {})))
    if untouched:
        raise UserError(f"config knob 'weights_file': {path} does not fit backbone {name!r} ({len(untouched)} of its "
                        f"{total} weights left at their random start, e.g. {untouched[0]}); give the weights of "
                        "that model")
    return model


def _read(name: str, path: Path) -> dict:
    try:
        return local_weights.read(path)
    except Exception as err:
        raise _weights_error(name, str(path), err, path) from None


def _torchvision(name: str, pretrained: bool, path: Path | None) -> nn.Module:
    """A torchvision classifier with its last Linear layer replaced by the identity."""
    import torchvision

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


def _torchvision_name(name: str) -> None:
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(TORCHVISION + c for c in close)}?" if close else ""
        raise UserError(f"config knob 'backbone': unknown torchvision model {name!r}{hint}")


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
    state = _read(name, path)
    fit = local_weights.Fit(model, state, dropped)
    if not fit.fits:
        raise fit.refuse(path, name)
    model.load_state_dict({k: v for k, v in state.items() if k not in dropped})
