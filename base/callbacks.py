"""Callbacks: what watches a training without being part of it (plots, summaries, loggers).

BaseTrainer calls four hooks; a callback overrides the ones it needs:

    on_fit_start(trainer, train_table, val_table)    the run folder exists, resume is done
    on_train_batch(trainer, epoch, step, images)      the normalised batch the model is about to see
    on_epoch_end(trainer, row, improved, val_probs)   metrics.csv and the checkpoints are written;
                                                      val_probs: (N, 18) in val_table's order
    on_fit_end(trainer, best)                         the best epoch's metrics row

The configured ones come from `build_callbacks(cfg)`: a factory registered with
`@register_callback(name)` gets the config and returns its callback, or None when the config
does not ask for it. A run asks the built-in ones (registered with `always=True`) and those its
`callbacks` knob names, no other: a callback file added to trainer/ changes no run that does not
name it. base/ does not know the watchers: logger/ registers the built-in ones when imported (run
artefacts always, TensorBoard and Weights & Biases when their knobs say so), and trainer/ imports
logger/, so every trainer has them.

A callback ends a run with `trainer.stop(reason)`: the epoch under way ends as usual and no
other starts; the stop is kept in last.pt, so `--resume` of that run does not train on, as after
early stopping.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from base.errors import UserError
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


# cfg -> Callback | None
CALLBACKS: Registry = Registry("callback")
ALWAYS: dict[str, None] = {}  # the names every run asks, in the order registered


def register_callback(name: str, always: bool = False):
    """`@register_callback("name")` on a factory `cfg -> Callback | None`: runs that name it in
    their `callbacks` knob get it. `always`: every run asks it (a built-in watcher that follows a
    knob of its own, as TensorBoard follows `tensorboard`)."""
    add = CALLBACKS.register(name)

    def register(factory):
        add(factory)
        if always:
            ALWAYS[name] = None
        return factory

    return register


def chosen_factories(cfg) -> list:
    """The factories a run asks: the built-in ones in the order registered, then those the
    `callbacks` knob names, in its order; a name that is unknown, built in or given twice fails here."""
    optional = [name for name in CALLBACKS.names() if name not in ALWAYS]
    known = f"known: {', '.join(optional)}" if optional else \
        "none is registered (@register_callback, docs/extending.md)"
    for i, name in enumerate(cfg.callbacks):
        if name in ALWAYS:
            raise UserError(f"config knob 'callbacks': {name!r} is built in and asked by every run (it follows a "
                            f"knob of its own, e.g. tensorboard=True); leave it out; {known}")
        if name not in CALLBACKS:
            raise UserError(f"config knob 'callbacks': unknown callback {name!r}; {known}")
        if name in cfg.callbacks[:i]:
            raise UserError(f"config knob 'callbacks': {name!r} is named twice; name each callback once")
    return [CALLBACKS.get(name) for name in [*ALWAYS, *cfg.callbacks]]


def build_callbacks(cfg) -> Callbacks:
    """The callbacks the config asks for; a logger whose package is missing fails here, before
    the run folder is made."""
    return Callbacks([c for c in (factory(cfg) for factory in chosen_factories(cfg)) if c is not None])
