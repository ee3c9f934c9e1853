"""What a run folder shows about itself, beside metrics.csv.

    summary.json        every epoch: best epoch and metrics, wall time, images/s, config hash,
                        data fingerprint (always written; the run report reads it; summary.py)
    curves.png          every epoch: loss, validation macro F1 (18-class and per head), lr
    train_batch.png     once: the first training batch as the model sees it (augmented)
    at each new best epoch, from its validation predictions (so they show best.pt):
    confusion.png, confusion_<head>.png   rows = truth, normalised by row, counts in the cells
    f1_per_class.png    F1 of each of the 18 classes and of each head's classes
    errors.png          the most confidently wrong validation images (gallery_size of them)
    val_probs.csv       at each new best epoch: its validation probabilities (val_probs.py)

The PNGs are drawn only with `plots = True`. Drawing stays under DRAW_BUDGET of the training
time: when the pictures of a new best epoch would go over it, they wait for a later epoch (at
the latest, the end of fit), so a short epoch is not slowed by its pictures; their titles name
the epoch they show. A model of one attribute (the "attribute" trainer,
a member of a "separate" group) gets the pictures of its attribute only: its 18-class view is
that attribute with the other two uniform, which says nothing.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score

from base.callbacks import Callback
from data_loader.images import read_rgb
from data_loader.labels import AGE_NAMES, GENDER_NAMES, MASK_NAMES, NUM_CLASSES, class_name, decode
from data_loader.layout import data_root
from logger import plots
from logger import val_probs as val_probs_file
from logger.summary import RunSummary
from model.heads import ATTRIBUTES

CLASS_NAMES = [class_name(c) for c in range(NUM_CLASSES)]
ATTRIBUTE_NAMES = {"mask": MASK_NAMES, "gender": GENDER_NAMES, "age": AGE_NAMES}
DRAW_BUDGET = 0.05  # of the time since fit started


def views(heads: Sequence[str]) -> list[str | None]:
    """What a model's predictions are scored as: None (the 18 classes) and the three attributes
    when it predicts all of them, or the one attribute of an attribute model."""
    if "class" in heads or set(ATTRIBUTES) <= set(heads):
        return [None, *ATTRIBUTES]
    return [a for a in ATTRIBUTES if a in heads]


def view(labels: np.ndarray, probs: np.ndarray, attribute: str | None):
    """(truth, prediction, its probability, class names) for the 18 classes (attribute None) or
    one attribute. An attribute's prediction is decoded from the 18-class one, as in metrics.csv;
    its probability is the attribute's marginal."""
    pred = probs.argmax(axis=1)
    if attribute is None:
        return labels, pred, probs[np.arange(len(pred)), pred], CLASS_NAMES
    index = ATTRIBUTES.index(attribute)
    marginal = probs.reshape(-1, 3, 2, 3).sum(axis=tuple(i + 1 for i in range(3) if i != index))
    pred = decode(pred)[index]
    return decode(labels)[index], pred, marginal[np.arange(len(pred)), pred], ATTRIBUTE_NAMES[attribute]


def confusion_figure(labels: np.ndarray, probs: np.ndarray, attribute: str | None, when: str) -> plots.Figure:
    truth, pred, _, names = view(labels, probs, attribute)
    matrix = confusion_matrix(truth, pred, labels=range(len(names)))
    return plots.confusion(matrix, names, f"{attribute or '18 classes'}: validation, {when}")


class RunArtifacts(Callback):
    def __init__(self, cfg):
        self.cfg = cfg

    def on_fit_start(self, trainer, train_table: pd.DataFrame, val_table: pd.DataFrame) -> None:
        self.run, self.val_table = trainer.run, val_table
        self.scored = views(trainer.heads)
        self.summary = RunSummary(self.cfg, trainer, train_table)
        self.started = self.summary.started
        self.pending, self.drawing = None, 0.0  # best epoch not drawn yet: (epoch, val_probs); seconds drawn

    def on_train_batch(self, trainer, epoch, step, images) -> None:
        self.summary.count(len(images))
        if self.cfg.plots and epoch == 1 and step == 0:
            grid = plots.batch_grid(images, self.cfg.mean, self.cfg.std)
            title = f"first training batch of epoch 1 as the model sees it (augment = {self.cfg.augment!r})"
            plots.save_png(plots.picture(grid, title), self.run / "train_batch.png")

    def on_epoch_end(self, trainer, row, improved, val_probs) -> None:
        if improved:
            val_probs_file.write(self.run, self.val_table, val_probs, data_root(self.cfg))
        if self.cfg.plots:
            started = time.perf_counter()
            self.pending = (row["epoch"], val_probs) if improved else self.pending
            if self.pending and self.drawing <= DRAW_BUDGET * (started - self.started):
                self.draw_best()
            self.draw_curves(trainer)
            self.drawing += time.perf_counter() - started
        self.summary.write(trainer, finished=False)

    def on_fit_end(self, trainer, best) -> None:
        if self.pending:
            self.draw_best()
        self.summary.write(trainer, finished=True)

    def draw_best(self) -> None:
        epoch, probs = self.pending
        evaluation_plots(self.run, probs, self.val_table, self.scored, self.cfg.gallery_size, f"epoch {epoch}")
        self.pending = None

    def draw_curves(self, trainer) -> None:
        history = pd.DataFrame(trainer.history)
        f1_columns = [f"val_f1_{a}" if a else "val_f1" for a in self.scored]
        monitor = trainer.monitor.metric
        if monitor.startswith("val_f1") and monitor not in f1_columns:
            f1_columns.append(monitor)
        fig = plots.curves(history, f1_columns, monitor, int(trainer.best_row()["epoch"]))
        plots.save_png(fig, self.run / "curves.png")


def evaluation_plots(folder: Path, probs: np.ndarray, val_table: pd.DataFrame, scored: Sequence[str | None],
                     gallery_size: int, when: str) -> None:
    """Confusion matrices, per-class F1 bars and the error gallery of (N, 18) validation
    probabilities, scored against the official labels, for each of `scored` (see `views`)."""
    labels = val_table["official_label"].to_numpy()
    panels = []
    for attribute in scored:
        plots.save_png(confusion_figure(labels, probs, attribute, when),
                       folder / (f"confusion_{attribute}.png" if attribute else "confusion.png"))
        truth, pred, _, names = view(labels, probs, attribute)
        f1 = f1_score(truth, pred, labels=range(len(names)), average=None, zero_division=0)
        title = "18 classes (mask/gender/age)" if attribute is None else attribute
        if attribute and None in scored:
            title += " (decoded from the 18-class prediction)"
        panels.append((title, names, f1, np.bincount(truth, minlength=len(names))))
    plots.save_png(plots.f1_bars(panels), folder / "f1_per_class.png")
    if gallery_size > 0:
        plots.save_png(error_gallery(probs, val_table, scored[0], gallery_size, when), folder / "errors.png")


def error_gallery(probs: np.ndarray, val_table: pd.DataFrame, attribute: str | None, size: int,
                  when: str) -> plots.Figure:
    """The `size` wrong validation predictions made with the highest probability."""
    labels = val_table["official_label"].to_numpy()
    truth, pred, confidence, names = view(labels, probs, attribute)
    shown = most_confident_mistakes(truth, pred, confidence, size)
    files = val_table["file"].to_numpy()
    captions = []
    for i in shown:
        caption = (f"{Path(files[i]).parent.name}/{Path(files[i]).name}\n"
                   f"true {names[truth[i]]}\npred {names[pred[i]]}  p={confidence[i]:.2f}")
        if attribute is None:
            parts = zip(ATTRIBUTES, decode(truth[i]), decode(pred[i]), strict=True)
            caption += "\nwrong: " + ", ".join(a for a, t, p in parts if t != p)
        captions.append(caption)
    title = (f"most confidently wrong validation images, {when} "
             f"({len(shown)} shown of {np.sum(pred != truth)} wrong of {len(truth)})")
    return plots.gallery([read_rgb(files[i]) for i in shown], captions, title)


def most_confident_mistakes(truth: np.ndarray, pred: np.ndarray, confidence: np.ndarray, size: int) -> np.ndarray:
    """Indices of up to `size` wrong predictions, the most confident first."""
    wrong = np.flatnonzero(pred != truth)
    return wrong[np.argsort(-confidence[wrong], kind="stable")][:size]
