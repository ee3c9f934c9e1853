"""The backbones `backbone` may name, with their pretrained weights: timm's models, and
torchvision's classifiers as tv:<name>.

A model's weights are listed as timm's tags (resnet18: a1_in1k, ..., tv_in1k; `pretrained = True`
loads the first, `backbone = "resnet18.a2_in1k"` another) or torchvision's weight names (its
default first). A `*` marks weights already on this machine, found by looking at the download
caches only (Hugging Face's hub cache, torch.hub's checkpoints folder): pretrained = True then
needs no network. Nothing is downloaded.
"""
from __future__ import annotations

import fnmatch
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlparse

from model.backbone import TORCHVISION

LEGEND = ("pretrained=True loads the first weights listed; a timm model's others as backbone='<model>.<tag>'; "
          "* = on this machine already (no network needed)")
# The files timm asks the Hugging Face hub for, safetensors first (timm/models/_hub.py).
HF_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def matches(name: str, pattern: str | None) -> bool:
    """fnmatch, case-insensitive; no pattern matches all."""
    return pattern is None or fnmatch.fnmatch(name.lower(), pattern.lower())


def rows(pattern: str | None) -> list[tuple[str, str]]:
    """(name, its weights) of every backbone whose name matches `pattern`."""
    return [*timm_rows(pattern), *torchvision_rows(pattern)]


def timm_rows(pattern: str | None) -> list[tuple[str, str]]:
    import timm
    from timm.models import get_pretrained_cfg

    names = [name for name in timm.list_models() if matches(name, pattern)]
    wanted, tags = set(names), defaultdict(list)
    for full in timm.list_pretrained():
        model, _, tag = full.partition(".")
        if model in wanted:
            tags[model].append(tag + ("*" if timm_cached(get_pretrained_cfg(full)) else ""))
    return [(name, " ".join(tags[name]) if tags[name] else "no pretrained weights") for name in names]


def torchvision_rows(pattern: str | None) -> list[tuple[str, str]]:
    try:
        import torchvision
    except ImportError:
        return [(f"{TORCHVISION}<name>", "torchvision's models need pip install torchvision")]
    found = []
    for name in torchvision.models.list_models(module=torchvision.models):
        if not (matches(name, pattern) or matches(TORCHVISION + name, pattern)):
            continue
        enum = torchvision.models.get_model_weights(name)
        default = getattr(enum, "DEFAULT", None)
        weights = sorted(enum, key=lambda w: w is not default)  # the one pretrained=True loads first
        text = " ".join(w.name + ("*" if in_torch_hub(w.url) else "") for w in weights)
        found.append((TORCHVISION + name, text or "no pretrained weights"))
    return found


def timm_cached(cfg) -> bool:
    """Whether timm would find these weights on this machine: in the Hugging Face hub cache, or in
    torch.hub's checkpoints folder (where timm keeps what it downloads by URL)."""
    if cfg.hf_hub_id and in_hf_cache(cfg.hf_hub_id, cfg.hf_hub_filename):
        return True
    return bool(cfg.url) and in_torch_hub(cfg.url)


def in_hf_cache(hub_id: str, filename: str | None = None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # timm then downloads by URL: the torch.hub check covers it
        return False
    repo, _, revision = hub_id.partition("@")
    files = (filename,) if filename else HF_FILES
    return any(isinstance(try_to_load_from_cache(repo, f, revision=revision or None), str) for f in files)


def in_torch_hub(url: str) -> bool:
    import torch

    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name).is_file()
