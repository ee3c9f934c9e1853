"""Test-time augmentation: deterministic views of a normalised batch, averaged in probability space.

Views work on the tensors the model sees, so an image is decoded once however many views
there are. The plain view is always included. A view's own arguments (scale's zoom, shift's
share, brightness's gain) come from the `tta_args` knob, by name: {"scale": {"zoom": 1.2}}.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from base.registry import Registry

View = Callable[[torch.Tensor], torch.Tensor]
VIEWS: Registry[Callable[..., View]] = Registry("TTA view")


@VIEWS.register("flip")
def flip(**_) -> View:
    """The picture mirrored left to right."""
    return lambda images: images.flip(-1)


@VIEWS.register("scale")
def scale(zoom: float = 1.1, **_) -> View:
    """Zoom in on the centre by `zoom` (the face a little larger)."""
    def view(images):
        h, w = images.shape[-2:]
        ch, cw = round(h / zoom), round(w / zoom)
        top, left = (h - ch) // 2, (w - cw) // 2
        crop = images[..., top:top + ch, left:left + cw]
        return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)
    return view


@VIEWS.register("shift")
def shift(share: float = 0.05, **_) -> View:
    """Move the picture right by `share` of its width, repeating the edge column."""
    def view(images):
        dx = max(1, round(images.shape[-1] * share))
        return F.pad(images, (dx, 0, 0, 0), mode="replicate")[..., :images.shape[-1]]
    return view


@VIEWS.register("brightness")
def brightness(mean: Sequence[float], std: Sequence[float], gain: float = 1.1, **_) -> View:
    """Pixels x `gain`, applied through the normalisation: (gain * x - mean) / std. The offset
    (gain - 1) * mean / std is made once per device and dtype: a tensor built from Python
    numbers on a GPU is a host-to-device copy, which would make every batch wait for it."""
    offsets: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def view(images):
        key = (images.device, images.dtype)
        if key not in offsets:
            m = torch.tensor(mean, device=images.device, dtype=images.dtype)[:, None, None]
            s = torch.tensor(std, device=images.device, dtype=images.dtype)[:, None, None]
            offsets[key] = (gain - 1) * m / s
        return gain * images + offsets[key]
    return view


ENGINE_ARGS = ("mean", "std")  # what build_views passes itself; tta_args gives the rest


def check_views(names: Sequence[str], args: Mapping[str, Mapping] | None = None) -> None:
    """Every view named (in `names` and in `tta_args`) is registered and takes its arguments."""
    args = args or {}
    for name in [n for n in names if n != "none"] + list(args):
        VIEWS.check_keywords(name, args.get(name, {}), "tta_args", ENGINE_ARGS)


def build_views(names: Sequence[str], mean: Sequence[float], std: Sequence[float],
                args: Mapping[str, Mapping] | None = None) -> list[View]:
    """The plain view, then the named ones with their `tta_args` (unknown names fail, listing the known)."""
    check_views(names, args)
    return [lambda images: images] + [VIEWS.get(n)(mean=mean, std=std, **(args or {}).get(n, {}))
                                      for n in names if n != "none"]
