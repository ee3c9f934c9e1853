"""The search space: a Python file with `def space(trial) -> dict`, define-by-run.

    def space(trial):
        return {"lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
                "age_thresholds": (30, trial.suggest_int("old_from", 56, 60))}

The dict maps config knobs to values; they go on top of the study's base config for that trial.
Trials compare like with like: a trial whose score would measure something else than the base
config's (another metric, say val_f1_mask of an "attribute" trainer; other persons, say a k-fold
group's out-of-fold ones; a loss of another scale when the study monitors a loss) is refused,
naming the knob. `check` calls space() on dry trials (every suggestion at its low end, at its high end, and every
categorical choice in turn) and validates each resulting config, so an unknown knob, a wrong type
or a value a knob refuses is reported before the first trial runs, not at trial 17 overnight.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from base import config as config_lib
from base.errors import UserError
from base.monitor import Monitor
from group import preflight
from group.registry import runner
from logger.fingerprint import LOSS_SCALE, validation_persons

Space = Callable[[Any], Mapping[str, Any]]

# Knobs a space may not search: they would validate trials on other persons or other labels, score
# them by another metric, or are the tuner's to set; trials must compare like with like.
FIXED = {"seed": "picks the validation persons", "folds": "picks the validation persons",
         "fold": "picks the validation persons", "data_dir": "is the data every trial is scored on",
         "demo_persons": "is the data", "demo_eval_persons": "is the data", "demo_image_size": "is the data",
         "demo_seed": "is the data", "corrections": "changes the validation labels",
         "monitor": "is the study's objective", "monitor_mode": "is the study's direction",
         "runs_dir": "is set by the tuner", "name": "is set by the tuner"}



def scored_by(cfg: config_lib.Config) -> dict:
    """What a trial of `cfg` reports as its score: the metric and direction, the persons it is
    measured on, and for a loss the knobs that set its scale."""
    monitor = Monitor.of(cfg, runner(cfg))  # a group: its own validation row (tuning/trial.py)
    scale = {k: cfg[k] for k in LOSS_SCALE} if "loss" in monitor.metric else {}
    return {"metric": str(monitor), "persons": validation_persons(cfg), "scale": scale}


def load(path: str | Path) -> Space:
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise UserError(f"--space {path}: not a Python file; pass a file with def space(trial), "
                        "such as configs/space.py")
    spec = importlib.util.spec_from_file_location(f"mask18_space_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file: its own error, in one line
        raise UserError(f"--space {path}: cannot be run: {type(error).__name__}: {error}") from None
    space = getattr(module, "space", None)
    if not callable(space):
        raise UserError(f"--space {path}: defines no function space(trial); "
                        "write def space(trial): return {knob: trial.suggest_...(...)}")
    return space


class DryTrial:
    """Stands in for an Optuna trial: suggestion `pick` of each kind, without a study.

    pick 0 takes every low end and first choice, pick 1 every high end and second choice, and so
    on (categoricals cycle through all their choices over enough picks)."""

    def __init__(self, pick: int):
        self.pick, self.params, self.number = pick, {}, -1
        self.user_attrs: dict[str, Any] = {}
        self.widest = 2  # the most choices of a categorical drawn so far (low and high make 2)

    def _keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._keep(name, float(high if self.pick % 2 else low))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return self._keep(name, int(low + (high - low) // step * step if self.pick % 2 else low))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        self.widest = max(self.widest, len(choices))
        return self._keep(name, list(choices)[self.pick % len(choices)])

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    def report(self, value: float, step: int) -> None:
        pass

    def should_prune(self) -> bool:
        return False


def trial_config(space: Space, trial: Any, base: config_lib.Config, where: str) -> tuple[config_lib.Config, dict]:
    """(the trial's validated config, the knobs the space set)."""
    try:
        knobs = space(trial)
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"{where}: space(trial) failed: {type(error).__name__}: {error}") from None
    if not isinstance(knobs, Mapping):
        raise UserError(f"{where}: space(trial) must return a dict of config knobs, got {type(knobs).__name__}")
    knobs = dict(knobs)
    for knob in knobs:
        if knob in FIXED:
            raise UserError(f"{where}: knob {knob!r} cannot be searched: it {FIXED[knob]}; set it in the base "
                            "config (--config/--set) instead")
    cfg = config_lib.build({**base.to_dict(), **knobs}, source=f"{where}: space(trial)")
    _same_score(base, cfg, knobs, where)
    try:  # what train.py checks at start-up
        preflight.check(cfg)
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    return cfg, knobs


def _same_score(base: config_lib.Config, cfg: config_lib.Config, knobs: dict, where: str) -> None:
    """Refuse a trial whose score measures something else than the base's, naming the knob."""
    mine, theirs = scored_by(base), scored_by(cfg)
    for part, what in (("metric", "the metric"), ("persons", "the persons it is measured on"),
                       ("scale", "the scale of the loss it monitors")):
        if mine[part] != theirs[part]:
            changed = [k for k in knobs if base[k] != cfg[k]]
            alone = [k for k in changed if _alone_changes(base, k, cfg[k], part)]
            culprit = (alone or changed or ["?"])[0]
            before, after = ((f"{culprit}={s['scale'].get(culprit)!r}" for s in (mine, theirs)) if part == "scale"
                             else (mine[part], theirs[part]))
            raise UserError(f"{where}: knob {culprit!r} cannot be searched: it changes {what} "
                            f"({before} -> {after}), so trials would not compare; set it in the base "
                            "config (--config/--set) instead")


class _Replay(DryTrial):
    """A dry trial that answers each suggestion from `fixed` (else its low end, first choice) and
    records what each suggestion could have been."""

    def __init__(self, fixed: dict[str, Any]):
        super().__init__(0)
        self.fixed, self.options = fixed, {}

    def _keep(self, name: str, value: Any) -> Any:
        return super()._keep(name, self.fixed.get(name, value))

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.options[name] = ("float", low, high)
        return super().suggest_float(name, low, high, step=step, log=log)

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.options[name] = ("int", list(range(low, high + 1, step)) if (high - low) // step < 512 else [])
        return super().suggest_int(name, low, high, step=step, log=log)

    def suggest_categorical(self, name, choices):
        self.options[name] = ("categorical", list(choices))
        return super().suggest_categorical(name, choices)


def base_params(space: Space, base: config_lib.Config) -> dict[str, Any] | None:
    """Suggestions under which space() gives back the base config's own values, or None when
    no such suggestions were found (the base lies outside the space). A suggestion named after a
    knob takes the base's value; the others are searched among their choices (ints and
    categoricals), a few passes over them, keeping what matches the most knobs."""
    def mismatches(fixed: dict[str, Any]) -> tuple[int, _Replay]:
        trial = _Replay(fixed)
        try:
            knobs = space(trial)
            cfg = config_lib.build({**base.to_dict(), **dict(knobs)}, source="space(trial)")
        except Exception:
            return 10**6, trial
        return sum(cfg[k] != base[k] for k in knobs), trial

    fixed: dict[str, Any] = {}
    for _ in range(3):
        worst, trial = mismatches(fixed)
        for name, option in trial.options.items():
            if name in base and _within(base[name], option):
                fixed[name] = base[name]
            elif option[0] != "float" and (name not in fixed or worst):
                scored = [(mismatches({**fixed, name: c})[0], i, c) for i, c in enumerate(option[1])]
                if scored:
                    fixed[name] = min(scored)[2]
        worst, trial = mismatches(fixed)
        if not worst:
            return dict(trial.params)
    return None


def _within(value: Any, option: tuple) -> bool:
    if option[0] == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and option[1] <= value <= option[2]
    return value in option[1]


def _alone_changes(base: config_lib.Config, knob: str, value: Any, part: str) -> bool:
    """Whether setting `knob` alone changes that part of what the base is scored by."""
    try:
        return scored_by(base.replace(**{knob: value}))[part] != scored_by(base)[part]
    except UserError:  # a knob that must change together with another: not alone
        return False


def check(space: Space, base: config_lib.Config, path: str | Path) -> int:
    """Run space() on dry trials until every categorical choice was taken; return how many ran."""
    picks, pick = 2, 0
    while pick < min(picks, 64):
        trial = DryTrial(pick)
        trial_config(space, trial, base, where=f"--space {path} (dry trial {pick})")
        picks = max(picks, trial.widest)  # a choice shown only in a branch widens it when drawn
        pick += 1
    return pick
