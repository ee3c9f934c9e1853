"""What a person looks at while and after a study runs; rewritten after every trial (the pictures
after every trial that did not fail), from the storage (so every worker's and every machine's
trials are in it), each file atomically.

    trials.csv        number, state, reason, value, best_epoch, epochs, minutes, each param, folder
    best.py           the best complete trial as an experiment file: the base config plus its knobs
    history.png       Optuna's optimisation history
    importances.png   Optuna's parameter importances (fANOVA)
    intermediate.png  every trial's monitored value per epoch: where the pruned ones stopped
A picture Optuna cannot draw yet (importances need two complete trials that differ) is a picture
that says why, so the files are always there to open.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd

from base import config as config_lib
from base.atomic import atomic_path, write_csv, write_text
from tuning.engine import optuna
from tuning.study_dir import Settings

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail", "RUNNING": "running", "WAITING": "waiting"}


def trials_table(study) -> pd.DataFrame:
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        value = attrs.get("best_value", t.value if t.value is not None else math.nan)  # pruned: its best epoch
        rows.append({"number": t.number, "state": STATES.get(t.state.name, t.state.name.lower()),
                     "reason": attrs.get("reason", ""), "value": value, "best_epoch": attrs.get("best_epoch"),
                     "epochs": attrs.get("epochs"), "minutes": attrs.get("minutes"),
                     **{f"param_{k}": v for k, v in t.params.items()}, "folder": attrs.get("folder", ""),
                     "host": attrs.get("host", "")})
    return pd.DataFrame(rows)


def best_trial(study):
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    if not complete:
        return None
    pick = max if study.direction.name == "MAXIMIZE" else min
    return pick(complete, key=lambda t: t.value)


def best_file(settings: Settings, trial, study_name: str) -> str:
    """best.py's text: every knob that differs from config.py, from the base and the trial's knobs."""
    base = settings.base_config
    knobs = trial.user_attrs.get("knobs", {})
    cfg = config_lib.build({**base.to_dict(), **knobs}, source=f"trial {trial.number}")
    defaults = config_lib.from_dict({}, source="config.py").to_dict()
    values = cfg.to_dict()
    values["name"] = f"{base.name or 'run'}-tuned"
    lines = [f'"""The best trial of study {study_name}: trial {trial.number}, value {trial.value:.4f}'
             f'{" at epoch " + str(trial.user_attrs["best_epoch"]) if trial.user_attrs.get("best_epoch") else ""}.',
             "",
             f"Base: {settings.base_source}; space: {settings.space}; "
             f"sampler {settings.sampler}, pruner {settings.pruner}.",
             f"Searched knobs: {', '.join(sorted(knobs)) or 'none'}.",
             "Every knob that differs from config.py is written out, so this file stands alone:",
             "    python train.py --config <this file>",
             '"""']
    for knob, value in values.items():
        if value != defaults.get(knob) or knob == "name" or knob in knobs:
            shown = repr(value) if knob == "name" else repr(cfg[knob])  # cfg keeps tuples as tuples
            lines.append(f"{knob} = {shown}" + ("  # searched" if knob in knobs else ""))
    return "\n".join(lines) + "\n"


def write(study_dir: Path, study, settings: Settings, pictures: bool = True) -> None:
    """trials.csv, best.py and (with `pictures`) the three pictures."""
    table = trials_table(study)
    write_csv(study_dir / "trials.csv", table)
    best = best_trial(study)
    if best is not None:
        write_text(study_dir / "best.py", best_file(settings, best, study.study_name))
    if pictures:
        draw(study_dir, study)


def draw(study_dir: Path, study) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = optuna().visualization.matplotlib
    searched = sorted({k for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" for k in t.params})

    def importances(study):  # over the searched parameters: a base trial outside the space has none
        if not searched:
            raise ValueError("no complete trial with searched parameters yet")
        return plots.plot_param_importances(study, params=searched)

    for name, draw in (("history", plots.plot_optimization_history), ("importances", importances),
                       ("intermediate", plots.plot_intermediate_values)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            try:
                axes = draw(study)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
            except Exception as error:  # e.g. importances before two complete trials
                figure, ax = plt.subplots(figsize=(6, 2))
                ax.axis("off")
                ax.text(0.5, 0.5, f"{name}: not drawn yet\n{type(error).__name__}: {error}"[:300], ha="center",
                        va="center", wrap=True)
        figure.set_size_inches(max(figure.get_size_inches()[0], 7), max(figure.get_size_inches()[1], 4))
        figure.tight_layout()
        with atomic_path(study_dir / f"{name}.png") as tmp:
            figure.savefig(tmp, format="png", dpi=90)
        plt.close(figure)


def summary_line(study) -> str:
    table = trials_table(study)
    counts = table["state"].value_counts().to_dict() if len(table) else {}
    best = best_trial(study)
    text = ", ".join(f"{n} {s}" for s, n in counts.items())
    return f"{len(table)} trials ({text})" + (f"; best trial {best.number}: {best.value:.4f} "
                                              f"{json.dumps(best.params)}" if best else "")
