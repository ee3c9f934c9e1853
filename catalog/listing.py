"""`python train.py --list [KIND [PATTERN]]`: the names each knob accepts, from the registries.

Every kind shows its names with the first line of each one's docstring; an entry registered
outside the project (custom_imports) shows its module too. PATTERN is a shell pattern
(`'convnext*'`). Without a KIND every kind is listed, the backbones (over a thousand) counted.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

from base.errors import UserError
from catalog import backbones

ROOT = Path(__file__).resolve().parent.parent
# kind -> what takes its names
KINDS = {
    "backbones": "knob backbone; " + backbones.LEGEND,
    "losses": "knobs loss, head_loss",
    "trainers": "knob trainer",
    "views": "TTA views: knob tta, inference.py --tta",
    "augments": "augment presets: knob augment",
    "mixers": "batch mixing: knob mix ('none': off)",
    "samplers": "knob sampler",
    "callbacks": "knob callbacks; the built-in ones run in every run",
    "presets": "experiment files: python train.py --config FILE",
}
SINGULAR = {"backbone": "backbones", "loss": "losses", "trainer": "trainers", "view": "views", "tta": "views",
            "augment": "augments", "mixer": "mixers", "mix": "mixers", "sampler": "samplers",
            "callback": "callbacks", "preset": "presets", "configs": "presets"}
SAMPLERS = {"random": "every training picture once per epoch, shuffled (or a share of them: sampler_share)",
            "weighted": "drawn with replacement, rare classes as often as common ones (whose: sampler_target)"}
# Built-in callbacks that need an optional package: name -> (module, the extra that installs it)
OPTIONAL_CALLBACKS = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb")}


def listing(words: list[str]) -> str:
    """The text `--list` prints for its words: [KIND [PATTERN]]."""
    import group  # noqa: F401  every trainer, run group and what trainer/'s files register, as train.py has them

    if len(words) > 2:
        raise UserError(f"--list takes a kind and at most one pattern, got {' '.join(words)}; "
                        "e.g. --list backbones 'convnext*'")
    if not words:
        return "\n".join(section(kind, None) for kind in KINDS if kind != "backbones") + "\n" + _backbone_count()
    kind = SINGULAR.get(words[0], words[0])
    if kind not in KINDS:
        raise UserError(f"--list: unknown kind {words[0]!r}; known: {', '.join(KINDS)}")
    return section(kind, words[1] if len(words) > 1 else None)


def section(kind: str, pattern: str | None) -> str:
    rows = ROWS[kind](pattern)
    head = f"{kind} ({KINDS[kind]}):"
    if not rows:
        return f"{head}\n  none match {pattern!r}\n"
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join([head, *(f"  {name:<{width}}{text}".rstrip() for name, text in rows)]) + "\n"


def _backbone_count() -> str:
    import timm

    timm_models, tv = len(timm.list_models()), len(backbones.torchvision_rows(None))
    return (f"backbones: {timm_models} timm models and {tv} torchvision ones (knob backbone); "
            "python train.py --list backbones 'PATTERN' lists them with their weights\n")


def _registered(registry, pattern: str | None, note: Callable[[str, object], str] = lambda name, entry: "") \
        -> list[tuple[str, str]]:
    rows = []
    for name in registry.names():
        if backbones.matches(name, pattern):
            entry = registry.get(name)
            text = " ".join(part for part in (_doc(entry), note(name, entry), _origin(entry)) if part)
            rows.append((name, text))
    return rows


def _doc(entry: object) -> str:
    """The first sentence of the entry's own docstring (a class's is not inherited)."""
    doc = getattr(entry, "__doc__", None) or ""
    paragraph = " ".join(line.strip() for line in doc.strip().split("\n\n")[0].splitlines())
    end = re.search(r"(?<!e\.g)(?<!i\.e)\.(?=\s)", paragraph)  # "e.g." ends no sentence
    return paragraph[:end.end()] if end else paragraph


def _origin(entry: object) -> str:
    """`(module)` for an entry from outside the project, e.g. a custom_imports module."""
    module = getattr(entry, "__module__", "") or ""
    top = module.split(".")[0]
    return "" if (ROOT / top / "__init__.py").is_file() else f"({module})"


def _losses(pattern: str | None) -> list[tuple[str, str]]:
    from model.loss import LOSSES

    def heads(name, entry):
        only = getattr(entry, "activations", ("softmax", "sigmoid"))
        return f"[{only[0]} heads only]" if len(only) == 1 else ""
    return _registered(LOSSES, pattern, heads)


def _trainers(pattern: str | None) -> list[tuple[str, str]]:
    from group.run_group import RunGroup
    from trainer import TRAINERS

    return _registered(TRAINERS, pattern, lambda name, entry: "[a run group]" if issubclass(entry, RunGroup) else "")


def _views(pattern: str | None) -> list[tuple[str, str]]:
    from model.tta import VIEWS

    return _registered(VIEWS, pattern)


def _augments(pattern: str | None) -> list[tuple[str, str]]:
    from data_loader.transforms import PRESETS

    return _registered(PRESETS, pattern)


def _mixers(pattern: str | None) -> list[tuple[str, str]]:
    from data_loader.mixing import MIXERS

    return _registered(MIXERS, pattern)


def _samplers(pattern: str | None) -> list[tuple[str, str]]:
    from base import config as config_lib

    names = get_args(config_lib.schema()["sampler"][0])
    return [(name, SAMPLERS.get(name, "")) for name in names if backbones.matches(name, pattern)]


def _callbacks(pattern: str | None) -> list[tuple[str, str]]:
    from base.callbacks import ALWAYS, CALLBACKS

    def note(name, entry):
        module, extra = OPTIONAL_CALLBACKS.get(name, (None, None))
        missing = f'; needs pip install -e ".[{extra}]"' if module and not importlib.util.find_spec(module) else ""
        return f"[built in{missing}]" if name in ALWAYS else "[when named]"
    return _registered(CALLBACKS, pattern, note)


def _presets(pattern: str | None) -> list[tuple[str, str]]:
    rows = []
    for path in sorted((ROOT / "configs").glob("*.py")):
        if not backbones.matches(path.stem, pattern) and not backbones.matches(path.name, pattern):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        doc = (ast.get_docstring(tree) or "").strip().splitlines()
        space = any(isinstance(n, ast.FunctionDef) and n.name == "space" for n in tree.body)
        rows.append((f"configs/{path.name}", (doc[0] if doc else "")
                     + (" [a search space: python tune.py --space]" if space else "")))
    return rows


ROWS: dict[str, Callable[[str | None], list[tuple[str, str]]]] = {
    "backbones": backbones.rows, "losses": _losses, "trainers": _trainers, "views": _views,
    "augments": _augments, "mixers": _mixers, "samplers": _samplers, "callbacks": _callbacks, "presets": _presets,
}
