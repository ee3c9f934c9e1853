"""A local weights file for a backbone: read it, and say how well it fits before anything trains.

A file that does not fit must stop the run: timm loads a file with `strict=False` whenever the
classifier is dropped (always, here), so a resnet18 file would silently leave most of a resnet34
at its random start. The fit is counted by tensor name and shape, the way `load_state_dict`
counts it; where the file's names are not the model's (a checkpoint in its original repository's
format, which timm converts on load), the count is what stayed at its random start instead.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from base.errors import UserError

WRAPPERS = ("state_dict", "model", "state_dict_ema", "model_ema")  # training checkpoints keep weights in one
# Below this share of the model's tensor names in the file, the file is taken to be in another
# naming that the model's loader converts (the count then compares with a random start).
SAME_NAMING = 0.5


def read(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .pth/.bin/.safetensors file, unwrapped from a training checkpoint and
    DataParallel's `module.` prefix."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not named weights")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def readable(path: Path) -> bool:
    """Whether the file itself can be read (rather than being the weights of another model)."""
    try:
        read(path)
    except Exception:  # torch and safetensors report a cut file in several types
        return False
    return True


class Fit:
    """How `state` fits `model`: tensors of the model the file lacks (or has in another shape),
    and tensors of the file the model has no place for."""

    def __init__(self, model: nn.Module, state: dict[str, torch.Tensor], dropped: Iterable[str] = ()):
        own = model.state_dict()
        state = {k: v for k, v in state.items() if k not in set(dropped)}
        self.total = len(own)
        self.shared = len(own.keys() & state.keys())
        self.missing = sorted(k for k in own if k not in state)
        self.reshaped = sorted(k for k in own if k in state and state[k].shape != own[k].shape)
        self.unexpected = sorted(k for k in state if k not in own)

    @property
    def same_naming(self) -> bool:
        return self.total > 0 and self.shared >= SAME_NAMING * self.total

    @property
    def fits(self) -> bool:
        return not (self.missing or self.reshaped or self.unexpected)

    def refuse(self, path: Path, backbone: str) -> UserError:
        example = (self.missing or self.reshaped or self.unexpected)[0]
        return UserError(f"config knob 'weights_file': {path} does not fit backbone {backbone!r} "
                         f"({len(self.missing)} of its {self.total} weights missing, {len(self.reshaped)} of "
                         f"another shape, {len(self.unexpected)} unexpected, e.g. {example}); give the weights "
                         "of that model")


def left_at_start(create: Callable[[bool], nn.Module]) -> tuple[nn.Module, list[str], int]:
    """Build the model twice from one seed, with and without the file (`create(with_file)`): the
    loaded model, the names of its parameters the file did not change, and how many there are.

    For files whose names the model's own loader converts; the caller's random state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        start = create(False).state_dict()
        torch.manual_seed(0)
        model = create(True)
    names = [n for n, _ in model.named_parameters()]
    loaded = model.state_dict()
    untouched = [n for n in names if torch.equal(loaded[n], start[n])]
    return model, untouched, len(names)
