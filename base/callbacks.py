"""Callbacks: what watches a training without being part of it (plots, summaries, loggers).

BaseTrainer calls four hooks; a callback overrides the ones it needs:

    on_fit_start(trainer, train_table, val_table)    the run folder exists, resume is done
    on_train_batch(trainer, epoch, step, images)      the normalised batch the model is about to see
    on_epoch_end(trainer, row, improved, val_probs)   metrics.csv and the checkpoints are written;
                                                      val_probs: (N, 18) in val_table's order
    on_fit_end(trainer, best)                         the best epoch's metrics row

The configured ones come from `build_callbacks(cfg)`: each factory registered with
`@register_callback(name)` gets the config and returns its callback, or None when the config
does not ask for it. base/ does not know the watchers: logger/ registers them when imported
(run artefacts always, TensorBoard and Weights & Biases when their knobs say so), and trainer/
imports logger/, so every trainer has them.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from base.registry import Registry

if TYPE_CHECKING:  # for the hooks' signatures only: `python -m logger.report --help` stays light
    import numpy as np
    import pandas as pd
    import torch


class Callback:
    def on_fit_start(self, trainer, train_table: pd.DataFrame, val_table: pd.DataFrame) -> None:
        pass

    def on_train_batch(self, trainer, epoch: int, step: int, images: torch.Tensor) -> None:
        pass

    def on_epoch_end(self, trainer, row: dict, improved: bool, val_probs: np.ndarray) -> None:
        pass

    def on_fit_end(self, trainer, best: dict) -> None:
        pass


class Callbacks(Callback):
    """Calls every callback in turn and keeps the seconds each one took, so the cost of
    watching a run is measured, not guessed (logged at the end of fit)."""

    def __init__(self, callbacks: list[Callback]):
        self.items = list(callbacks)
        self.seconds: dict[str, float] = defaultdict(float)
        self.epoch_seconds: list[float] = []  # all callbacks, per epoch trained by this process
        self._this_epoch = 0.0

    def _call(self, hook: str, *args) -> None:
        for callback in self.items:
            started = time.perf_counter()
            getattr(callback, hook)(*args)
            spent = time.perf_counter() - started
            self.seconds[type(callback).__name__] += spent
            self._this_epoch += spent

    def on_fit_start(self, trainer, train_table, val_table) -> None:
        self._call("on_fit_start", trainer, train_table, val_table)

    def on_train_batch(self, trainer, epoch, step, images) -> None:
        self._call("on_train_batch", trainer, epoch, step, images)

    def on_epoch_end(self, trainer, row, improved, val_probs) -> None:
        self._call("on_epoch_end", trainer, row, improved, val_probs)
        self.epoch_seconds.append(self._this_epoch)
        self._this_epoch = 0.0

    def on_fit_end(self, trainer, best) -> None:
        self._call("on_fit_end", trainer, best)
        if self.items and self.epoch_seconds:
            epochs = trainer.history[-len(self.epoch_seconds):]
            parts = ", ".join(f"{name} {s:.1f}s" for name, s in self.seconds.items())
            trainer.log.info(f"callbacks took {sum(self.seconds.values()):.1f}s ({parts}) beside "
                             f"{sum(r['seconds'] for r in epochs):.1f}s of training and validation "
                             f"in {len(self.epoch_seconds)} epoch(s)")


# cfg -> Callback | None, built in the order they were registered.
CALLBACKS: Registry = Registry("callback")
register_callback = CALLBACKS.register


def build_callbacks(cfg) -> Callbacks:
    """The callbacks the config asks for; a logger whose package is missing fails here, before
    the run folder is made."""
    return Callbacks([c for c in (factory(cfg) for factory in CALLBACKS.entries()) if c is not None])
