"""Load, validate and freeze the configuration.

The knobs, their types and defaults are the annotated names of the project's `config.py`.
An experiment file (`configs/x.py`) assigns only what differs; it may name another base with
`_base_ = "other.py"` (relative to itself). A run folder's config.json serves as an experiment
file too: the run's whole configuration. `--set key=value` overrides come last. Building a
Config imports its `custom_imports` (base/custom_imports.py), so what they register is known
wherever the configuration is.
"""
from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import inspect
import json
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from base.cli_types import size_parts
from base.custom_imports import import_all
from base.errors import UserError

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config.py"
EXAMPLE = DEFAULTS_FILE.parent / "configs" / "best.py"  # the experiment file error lines point to

# Value rules beyond the type: knob -> (test, what the value must be).
_RULES = {
    "name": (lambda v: not set(v) & {"/", "\\", "\0"}, "a folder-name prefix without / or \\ (a run's folder is "
             "runs_dir/<name>-<time>; set runs_dir to put runs elsewhere)"),
    "epochs": (lambda v: v >= 1, "at least 1"),
    "batch_size": (lambda v: v >= 1, "at least 1"),
    "inference_batch_size": (lambda v: v >= 1, "at least 1"),
    "folds": (lambda v: v >= 2, "at least 2"),
    "fold": (lambda v: v >= 0, "0 or more"),
    "lr": (lambda v: v > 0, "greater than 0"),
    "weight_decay": (lambda v: v >= 0, "0 or more"),
    "warmup_epochs": (lambda v: v >= 0, "0 or more"),
    "step_epochs": (lambda v: v >= 1, "at least 1"),
    "patience": (lambda v: v >= 0, "0 or more"),
    "min_delta": (lambda v: v >= 0, "0 or more"),
    "checkpoint_every_steps": (lambda v: v >= 0, "0 (off) or more"),
    "keep_last": (lambda v: v >= 0, "0 (none) or more"),
    "num_workers": (lambda v: v >= -1, "-1 (auto) or 0 or more"),
    "drop_rate": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "image_size": (lambda v: min(v) >= 16, "two sizes of at least 16 pixels"),
    "demo_image_size": (lambda v: min(v) >= 32, "two sizes of at least 32 pixels"),
    "demo_persons": (lambda v: v >= 10, "at least 10"),
    "demo_eval_persons": (lambda v: v >= 1, "at least 1"),
    "age_thresholds": (lambda v: 0 < v[0] < v[1] <= 120, "two increasing ages in 1..120"),
    "std": (lambda v: min(v) > 0, "three numbers greater than 0"),
    "mix_prob": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "face_crop_margin": (lambda v: v >= 0, "0 or more"),
    "face_crop_fallback": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "accumulate_steps": (lambda v: v >= 1, "at least 1"),
    "clip_grad_norm": (lambda v: v >= 0, "0 or more"),
    "ema_decay": (lambda v: 0 < v < 1, "in (0, 1)"),
    "time_limit_minutes": (lambda v: v >= 0, ">= 0 (0 = no limit)"),
    "plateau_patience": (lambda v: v >= 0, "0 or more"),
    "prefetch_factor": (lambda v: v >= 1, "at least 1"),
    "cache_memory_gb": (lambda v: v >= 0, "0 or more"),
    "cache_size": (lambda v: min(v) == max(v) == 0 or min(v) >= 16, "(0, 0) or two sizes of at least 16"),
    "pseudo_rounds": (lambda v: v >= 1, "at least 1"),
    "pseudo_max_per_class": (lambda v: v >= 0, "0 or more"),
    "pseudo_threshold": (lambda v: all(0 <= t <= 1 for t in (v if isinstance(v, list) else [v])),
                         "in [0, 1] (or a list of such)"),
    "mix_alpha": (lambda v: v > 0, "greater than 0"),
    "focal_gamma": (lambda v: v >= 0, "0 or more"),
    "age_sigma": (lambda v: v > 0, "greater than 0 (years)"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "class_weights": (lambda v: not isinstance(v, str) or v in ("none", "inverse", "sqrt_inverse"),
                      "'none', 'inverse', 'sqrt_inverse' or {head: [weights]}"),
    "gallery_size": (lambda v: v >= 0, "0 or more"),
    "randaugment_n": (lambda v: 0 <= v <= 15, "0..15 (the operations there are)"),
    "randaugment_m": (lambda v: 0 <= v <= 10, "in 0..10"),
    "sampler_share": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "drop_ages": (lambda v: all(0 <= lo <= hi for lo, hi in v), "a list of (lowest, highest) ages, e.g. [(26, 29)]"),
    "average_last": (lambda v: v >= 0, "0 (off) or more"),
    "backbone_lr_scale": (lambda v: v >= 0, "0 or more (1 = the lr of the heads)"),
    "layer_decay": (lambda v: 0 <= v < 1, "in [0, 1) (0 = off)"),
    "freeze_backbone_epochs": (lambda v: v >= 0, "0 (off) or more"),
    "person_vote_size": (lambda v: v == 0 or v >= 2, "0 (no limit) or at least 2"),
    "wandb_project": (lambda v: v.strip() != "", "a project name"),
}


class Config(Mapping):
    """A validated, read-only set of knobs; read them as attributes (`cfg.lr`)."""

    def __init__(self, values: Mapping[str, Any]):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, knob: str) -> Any:
        try:
            return self._values[knob]
        except KeyError:
            raise AttributeError(knob) from None

    def __setattr__(self, knob: str, value: Any) -> None:
        raise AttributeError("Config is read-only; use cfg.replace(knob=value)")

    def __getitem__(self, knob: str) -> Any:
        return self._values[knob]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    def __reduce__(self):  # pickled as its values: rank 0 hands a run group's member configs to the others
        return _unpickled, (self._values,)

    def replace(self, **changes: Any) -> Config:
        """A validated copy with some knobs changed."""
        return build({**self._values, **changes}, source="replace()")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values (tuples become lists)."""
        return json.loads(json.dumps(self._values))

    def diff(self, other: Mapping[str, Any]) -> list[str]:
        """Knobs whose values differ from `other`'s."""
        mine, theirs = self.to_dict(), json.loads(json.dumps(dict(other)))
        return sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))


def _unpickled(values: dict[str, Any]) -> Config:
    """A Config another process sent: its custom_imports are imported in this one too."""
    import_all(values.get("custom_imports", ()), "the configuration another process sent")
    return Config(values)


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, tuple[Any, Any]]:
    """knob -> (type, default), read from the annotated names of config.py."""
    module = _load_module(DEFAULTS_FILE)
    hints = inspect.get_annotations(module, eval_str=True)
    return {k: (t, getattr(module, k)) for k, t in hints.items() if not k.startswith("_")}


def load(experiment: str | Path | None = None, overrides: Sequence[str] = (),
         base: Mapping[str, Any] | None = None) -> Config:
    """config.py (or `base`, e.g. a saved run's values), then the experiment file's changes,
    then `key=value` overrides."""
    values = {k: default for k, (_, default) in schema().items()}
    values.update(base or {})
    sources: dict[str, str] = {}  # knob -> the file or "--set" that gave it, for the error lines
    if experiment:
        path = Path(experiment)
        values.update(_experiment_values(path, seen=(), sources=sources))
        if not values.get("name"):
            values["name"] = "run" if path.suffix == ".json" else path.stem
    for item in overrides:
        knob, sep, text = item.partition("=")
        if not sep or not knob.strip():
            raise UserError(f"--set {item!r}: write knob=value, e.g. --set lr=0.001")
        knob = knob.strip()
        values[knob] = parse_text(text.strip(), schema()[knob][0] if knob in schema() else Any)
        sources[knob] = "--set"
    return build(values, source="--set" if overrides else str(experiment or DEFAULTS_FILE), sources=sources)


def from_dict(values: Mapping[str, Any], source: str) -> Config:
    """A saved configuration (config.json, a checkpoint); knobs added since get their defaults."""
    defaults = {k: default for k, (_, default) in schema().items()}
    unknown = sorted(set(values) - set(defaults))
    if unknown:  # written by a mask18 that has knobs this one lacks
        raise UserError(f"{source}: knob(s) {', '.join(map(repr, unknown))} unknown to this mask18: the run was saved "
                        "by another version; use that version, or remove the knob(s) from the saved config.json "
                        "if their default is what the run did")
    return build({**defaults, **values}, source=source)


def build(values: Mapping[str, Any], source: str, sources: Mapping[str, str] | None = None) -> Config:
    """Check every knob's name, type and value; return the frozen Config. An error names the
    knob's own entry of `sources` (its file, or --set), else `source`."""
    known = schema()
    out = {}
    for knob, value in values.items():
        where = (sources or {}).get(knob, source)
        if knob not in known:
            close = difflib.get_close_matches(knob, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; see config.py for the knobs"
            raise UserError(f"{where}: unknown config knob {knob!r}{hint}")
        out[knob] = _coerce(knob, value, known[knob][0], where)
        rule = _RULES.get(knob)
        if rule and not rule[0](out[knob]):
            raise UserError(f"{where}: config knob {knob!r} must be {rule[1]}, got {value!r}")
    if out.get("checkpoint") == "averaged" and not out.get("average_last"):
        raise UserError(f"{source}: config knob 'checkpoint' = 'averaged' needs weights averaged in training: "
                        "set average_last to the epochs to average (e.g. 3), or use checkpoint='best'")
    if out.get("freeze_backbone_epochs", 0) >= out.get("epochs", 1):
        raise UserError(f"{source}: config knob 'freeze_backbone_epochs' ({out['freeze_backbone_epochs']}) must be "
                        f"below epochs ({out['epochs']}), or the backbone never trains")
    if out.get("fold", 0) >= out.get("folds", 1):
        raise UserError(f"{source}: config knob 'fold' must be below folds={out['folds']}, got {out['fold']}")
    if out.get("custom_imports"):  # a file's path kept absolute: inference.py may run from another folder
        out["custom_imports"] = [_absolute_file(entry) for entry in out["custom_imports"]]
    # Before any registered name of the config (trainer, loss, callbacks, ...) is looked up.
    import_all(out.get("custom_imports", ()), (sources or {}).get("custom_imports", source))
    return Config(out)


def _absolute_file(entry: str) -> str:
    """A custom_imports entry naming an existing .py file, as its absolute path; others as given."""
    path = Path(entry).expanduser()
    return str(path.resolve()) if entry.endswith(".py") and path.is_file() else entry


def _experiment_values(path: Path, seen: tuple[Path, ...], sources: dict[str, str],
                       named_by: Path | None = None) -> dict[str, Any]:
    """The knobs of an experiment file (or a run's config.json) and its _base_ chain; `sources`
    learns which file set each. `named_by`: the file whose _base_ names this one."""
    if not path.is_file():
        if named_by is not None:
            raise UserError(f"{named_by}: _base_ names {path}, which does not exist (a _base_ is resolved beside "
                            "the file that names it); fix the name or the path")
        raise UserError(f"experiment file {path} not found; pass a .py file such as {_shown(EXAMPLE)}, or a run "
                        "folder's config.json to train that run's configuration again")
    if path.suffix == ".json":
        return _saved_values(path, sources)
    if path.suffix != ".py":
        raise UserError(f"experiment file {path}: not a .py file (or a run's config.json); write the knobs that "
                        "differ as Python, e.g. epochs = 20")
    if path.resolve() in seen:
        raise UserError(f"{path}: _base_ chain loops back to itself")
    module = _load_module(path)
    names = {k: getattr(module, k) for k in _assigned_names(path)}
    base = names.pop("_base_", None)
    values = {}
    if base is not None and Path(base).resolve() != DEFAULTS_FILE:
        values = _experiment_values((path.parent / base), seen + (path.resolve(),), sources, named_by=path)
    mine = {k: v for k, v in names.items() if not k.startswith("_")}
    values.update(mine)
    sources.update(dict.fromkeys(mine, str(path)))
    return values


def read_saved(path: Path) -> dict[str, Any]:
    """The knobs of a run's config.json as written; one line when it is cut off or not a run's."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not a readable config.json ({err}); it was cut off or edited by hand: restore it "
                        "from a copy of the run, or train anew") from None
    if not isinstance(values, dict):
        raise UserError(f"{path}: holds no knobs (a JSON object of knob: value), so it is no run's config.json")
    return values


def _saved_values(path: Path, sources: dict[str, str]) -> dict[str, Any]:
    """The knobs of a run's config.json: the run's whole configuration, trained again as it was."""
    values = read_saved(path)
    sources.update(dict.fromkeys(values, str(path)))
    return values


def _shown(path: Path) -> str:
    """`path` as a user would type it here: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _assigned_names(path: Path) -> list[str]:
    """Names the file assigns at top level (imports and helpers inside functions are not knobs).
    A knob (or _base_) assigned twice is an error: the second would win without a word."""
    first: dict[str, int] = {}
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        for name in [name for target in targets for name in _bound_names(target)]:
            if name in first and (not name.startswith("_") or name == "_base_"):
                raise UserError(f"{path}: knob {name!r} is set twice (lines {first[name]} and {node.lineno}); "
                                "the second would silently win, keep one")
            first.setdefault(name, node.lineno)
    return list(first)


def _bound_names(target: ast.AST) -> list[str]:
    """The names an assignment target binds (`a`, `a, b`); `a[0] = x` changes an item of `a`,
    it does not assign `a` again."""
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _load_module(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"_mask18_cfg_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # a typo in the user's Python file
        raise UserError(f"{path}: cannot be read as Python ({type(err).__name__}: {err})") from None
    return module


_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def parse_text(text: str, tp: Any = Any) -> Any:
    """A knob's value as users type it on a command line: a Python literal (3e-4, (384, 288),
    ["flip"]), else a bare word (resnet34); and for a knob of type `tp` also the shell's
    spellings: true/false/yes/no/on/off/1/0 for a bool, 3.0 for an int, flip,scale for a list,
    384x288 or 384 (a square) for a size. A text knob keeps the text as typed (name=2024)."""
    if tp is str:
        return _unquoted(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text  # a bare word is a string: --set backbone=resnet34
    if tp is not Any and _is_size(tp) and isinstance(value, (int, str)) and not isinstance(value, bool):
        value = _size(str(value))
    loose = _loosen(value, tp)
    if get_origin(tp) in (Union, types.UnionType) and str in get_args(tp):
        try:
            _convert(loose, tp)
        except (TypeError, ValueError):
            return _unquoted(text)  # loss=1e3 is no number knob's: the text
    return loose


def _unquoted(text: str) -> str:
    """A text knob's value: quotes around it (name='x', as --print-config writes) are dropped."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            return str(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            pass
    return text


def _is_size(tp: Any) -> bool:
    return get_origin(tp) is tuple and get_args(tp) == (int, int)


def _size(text: str) -> Any:
    """384x288, 384,288 or 384 (a square) as (height, width); anything else is left to the type check."""
    return size_parts(text) or text


def _loosen(value: Any, tp: Any) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        for option in args:  # the first spelling the knob's types accept
            try:
                return _convert(_loosen(value, option), option)
            except (TypeError, ValueError):
                pass
        return value
    if tp is bool and isinstance(value, (str, int)) and str(value).lower() in _WORDS:
        return _WORDS[str(value).lower()]
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if origin in (list, tuple) and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        items = [parse_text(p.strip()) for p in str(value).split(",") if p.strip()] if isinstance(value, str) \
            else [value]
        if len(items) == 1 and str(items[0]).lower() == "none" and origin is list:
            return []  # tta=none: no views
        kinds = args[:1] * len(items) if origin is list or (len(args) == 2 and args[1] is Ellipsis) else args
        return origin(_loosen(v, k) for v, k in zip(items, kinds, strict=True)) if len(kinds) == len(items) else items
    return value


def _coerce(knob: str, value: Any, tp: Any, source: str) -> Any:
    try:
        return _convert(value, tp)
    except (TypeError, ValueError):
        raise UserError(f"{source}: config knob {knob!r} must be {_describe(tp)}, got {value!r}") from None


def _convert(value: Any, tp: Any) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is Literal:
        if value in args:
            return value
    elif origin in (Union, types.UnionType):
        for option in args:
            try:
                return _convert(value, option)
            except (TypeError, ValueError):
                pass
    elif origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0]) for v in value)
        if len(value) == len(args):
            return tuple(_convert(v, a) for v, a in zip(value, args, strict=True))
    elif origin is list and isinstance(value, (list, tuple)):
        return [_convert(v, args[0]) for v in value]
    elif origin is dict and isinstance(value, Mapping):
        return {_convert(k, args[0]): _convert(v, args[1]) for k, v in value.items()}
    raise TypeError


def _describe(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"{len(args)} values ({', '.join(_describe(a) for a in args)})"
    if origin is list:
        return f"a list of {_describe(args[0])}"
    if origin is dict:
        return f"a dict of {_describe(args[0])} to {_describe(args[1])}"
    return {bool: "True or False", int: "an integer", float: "a number", str: "a string",
            type(None): "None"}.get(tp, str(tp))
