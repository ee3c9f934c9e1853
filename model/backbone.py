"""timm backbones: any `timm.create_model` name, random, hub or local-file weights."""
from __future__ import annotations

import difflib
from pathlib import Path

import timm
from torch import nn

from base.errors import UserError


def create_backbone(name: str, pretrained: bool = False, weights_file: str = "") -> nn.Module:
    """A feature extractor (pooled features, no classifier).

    `weights_file` (a local .pth/.bin/.safetensors of the timm model) wins over `pretrained`
    and needs no network; timm drops its classifier weights when loading.
    """
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models()"
        raise UserError(f"config knob 'backbone': unknown timm model {name!r}{hint}")
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise UserError(f"config knob 'weights_file': {path} not found; give a local weights file or ''")
        return _create(name, True, pretrained_cfg_overlay={"file": str(path)}, source=str(path))
    return _create(name, pretrained, source="the model hub")


def _create(name: str, pretrained: bool, source: str, **kwargs) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=0, **kwargs)
    except Exception as err:  # network, hub and file errors come in many types
        if not pretrained:
            raise
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise UserError(f"could not load pretrained weights for {name!r} from {source} ({reason}); "
                        "set pretrained=False, or weights_file to a local weights file") from None
