"""What watches a run without being part of it: the callbacks BaseTrainer calls and what they write.

    run_artifacts.py      the run folder's pictures, and summary.json (summary.py)
    plots.py              the figures themselves (matplotlib, off-screen)
    fingerprint.py        config hash and data fingerprint, for summary.json; what validation scores measure
    tensorboard_logger.py, wandb_logger.py   the optional loggers
    report.py             python -m logger.report: compare runs, best first, in blocks of runs that compare
    report_runs.py, report_table.py, report_width.py   its reading, its blocks and columns, its fit to the terminal

Importing this package registers the built-in watchers with base/callbacks.py, asked by every
run, in this order: run artefacts (always: summary.json, and the pictures when `plots`),
TensorBoard (`tensorboard`), Weights & Biases (`wandb`). trainer/ imports it, so every training
gets them.
"""
from __future__ import annotations

from base.callbacks import Callback, register_callback


@register_callback("run_artifacts", always=True)
def _run_artifacts(cfg) -> Callback:
    """summary.json and val_probs.csv in the run folder, and its pictures when `plots` is on."""
    from logger.run_artifacts import RunArtifacts

    return RunArtifacts(cfg)


@register_callback("tensorboard", always=True)
def _tensorboard(cfg) -> Callback | None:
    """TensorBoard logs in <run>/tensorboard when `tensorboard` is on."""
    if not cfg.tensorboard:
        return None
    from logger.tensorboard_logger import TensorBoardLogger

    return TensorBoardLogger(cfg)


@register_callback("wandb", always=True)
def _wandb(cfg) -> Callback | None:
    """Weights & Biases logging when `wandb` is on."""
    if not cfg.wandb:
        return None
    from logger.wandb_logger import WandbLogger

    return WandbLogger(cfg)
