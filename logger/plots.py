"""The pictures of a run, drawn with matplotlib's object API on the Agg canvas.

No pyplot: nothing here selects a backend or needs a display, and no figure outlives its call.
Every function returns a Figure; `save_png` writes it atomically, `to_array` gives its pixels
(for TensorBoard and Weights & Biases).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torchvision.utils import make_grid

from base.atomic import atomic_path

DPI = 100


def _margins(fig: Figure, left: float, right: float, top: float, bottom: float, **space) -> None:
    """Margins in inches. Fixed margins instead of a layout engine: measuring every label before
    drawing costs a third of the drawing time, and these figures' labels have known sizes."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height,
                        **space)


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        # zlib level 1: a third of the default's time for files about a third larger
        fig.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})


def to_array(fig: Figure) -> np.ndarray:
    """(H, W, 3) uint8 pixels of the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def curves(history: pd.DataFrame, f1_columns: Sequence[str], monitor: str, best_epoch: int) -> Figure:
    """Loss, validation F1 and learning rate against the epoch; the best epoch dotted."""
    fig = Figure(figsize=(15, 4.2))
    _margins(fig, left=0.7, right=0.2, top=0.7, bottom=0.6, wspace=0.25)
    loss_ax, f1_ax, lr_ax = fig.subplots(1, 3)
    epochs = history["epoch"]
    style = {"marker": "o", "markersize": 3}
    for column, label in (("train_loss", "train"), ("val_loss", "validation")):
        loss_ax.plot(epochs, history[column], label=label, **style)
    for column in f1_columns:
        label = {"val_f1": "18-class"}.get(column, column.removeprefix("val_f1_"))
        f1_ax.plot(epochs, history[column], label=label, linewidth=2.5 if column == monitor else 1.5, **style)
    lr_ax.plot(epochs, history["lr"], color="tab:gray", **style)
    titles = (("loss", "loss"), ("validation macro F1", "macro F1"), ("learning rate (epoch start)", "lr"))
    for ax, (title, ylabel) in zip((loss_ax, f1_ax, lr_ax), titles, strict=True):
        ax.set(title=title, xlabel="epoch", ylabel=ylabel)
        ax.axvline(best_epoch, color="black", linestyle=":", linewidth=1)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    loss_ax.legend()
    f1_ax.legend(loc="lower right")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    best = history.loc[history["epoch"] == best_epoch, monitor]
    fig.suptitle(f"best {monitor} {best.iloc[0]:.4f} at epoch {best_epoch} (dotted line)")
    return fig


def confusion(matrix: np.ndarray, names: Sequence[str], title: str) -> Figure:
    """Rows are the truth, normalised to 1 (colour); the cells show the counts."""
    n = len(names)
    # inches: a cell, the room for the class names left and below, for the colour bar right
    cell, left, bottom, right, top = (0.5, 2.2, 1.7, 1.4, 0.4) if n > 6 else (1.1, 2.0, 0.7, 1.4, 0.4)
    width, height = left + n * cell + right, bottom + n * cell + top
    fig = Figure(figsize=(width, height))
    _margins(fig, left=left, right=right, top=top, bottom=bottom)
    ax = fig.subplots()
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    bar = fig.add_axes(((width - right + 0.25) / width, bottom / height, 0.2 / width, n * cell / height))
    fig.colorbar(image, cax=bar, label="share of the true class (row)")
    fontsize = 8 if n > 6 else 11
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=fontsize,
                color="white" if share[i, j] > 0.55 else "black")
    ax.set_xticks(range(n), names, rotation=90 if n > 6 else 0, fontsize=fontsize)
    ax.set_yticks(range(n), [f"{name} (n={count})" for name, count in zip(names, rows[:, 0], strict=True)],
                  fontsize=fontsize)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if n == 18:  # the mask blocks (6 classes each) make the matrix readable at a glance
        for edge in (5.5, 11.5):
            ax.axhline(edge, color="gray", linewidth=0.8)
            ax.axvline(edge, color="gray", linewidth=0.8)
    return fig


def f1_bars(panels: Sequence[tuple[str, Sequence[str], np.ndarray, np.ndarray]]) -> Figure:
    """One horizontal bar chart per (title, class names, F1 per class, true count per class)."""
    heights = [0.3 * len(names) + 0.3 for _, names, _, _ in panels]
    gap = 0.9  # inches between panels: an x label and the next title
    fig = Figure(figsize=(8, sum(heights) + gap * len(panels) + 0.2))
    _margins(fig, left=1.6, right=0.2, top=0.4, bottom=0.6, hspace=gap / np.mean(heights))
    axes = fig.subplots(len(panels), 1, height_ratios=heights, squeeze=False)[:, 0]
    for ax, (title, names, f1, support) in zip(axes, panels, strict=True):
        y = np.arange(len(names))
        colors = ["tab:red" if v < 0.5 else "tab:orange" if v < 0.8 else "tab:green" for v in f1]
        ax.barh(y, f1, color=colors)
        for i, (v, count) in enumerate(zip(f1, support, strict=True)):
            ax.text(min(v, 1.0) + 0.01, i, f"{v:.3f}  (n={count})", va="center", fontsize=8)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
        ax.set(xlim=(0, 1.25), xlabel="F1", title=title)
        ax.axvline(1.0, color="gray", linewidth=0.8)
        ax.grid(axis="x", alpha=0.3)
    return fig


def gallery(images: Sequence[np.ndarray], captions: Sequence[str], title: str, columns: int = 6) -> Figure:
    """A grid of pictures, each with a caption of up to four short lines above it.

    The pictures are pasted into one array and drawn once, pixel for pixel: one image instead of
    an axes per picture makes this five times faster to draw."""
    if not images:
        fig = Figure(figsize=(6, 1.5))
        fig.text(0.5, 0.5, f"{title}:\nnone", ha="center", va="center", fontsize=12)
        return fig
    height, cell_width, caption = 240, 280, 64  # pixels
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    cell_height = caption + height + 10
    sheet = np.full((rows * cell_height, columns * cell_width, 3), 255, np.uint8)
    for k, image in enumerate(images):
        width = min(cell_width - 10, round(image.shape[1] * height / image.shape[0]))
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        top, left = (k // columns) * cell_height + caption, (k % columns) * cell_width + (cell_width - width) // 2
        sheet[top:top + height, left:left + width] = small
    title_px = 40
    fig = Figure(figsize=(sheet.shape[1] / DPI, (sheet.shape[0] + title_px) / DPI))
    fig.figimage(sheet, origin="upper")  # pasted as it is: no axes, no resampling
    for k, text in enumerate(captions):
        top = title_px + (k // columns) * cell_height + caption - 4  # pixels from the top
        fig.text((k % columns) * cell_width + 6, fig.bbox.height - top, text, transform=None,
                 fontsize=8, va="bottom", ha="left", linespacing=1.2)
    fig.suptitle(title, y=1 - 10 / fig.bbox.height, va="top")
    return fig


def batch_grid(images: torch.Tensor, mean: Sequence[float], std: Sequence[float], count: int = 32) -> np.ndarray:
    """(H, W, 3) uint8 grid of the first `count` normalised images of a batch, as the model sees them."""
    images = images[:count].detach().float().cpu()
    images = images * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    grid = make_grid(images.clamp(0, 1), nrow=8, padding=2, pad_value=1.0)
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def picture(image: np.ndarray, title: str) -> Figure:
    height, width = image.shape[:2]
    scale = max(1.0, 600 / width)  # small demo images are shown larger, pixel for pixel
    fig = Figure(figsize=(width * scale / DPI, height * scale / DPI + 0.5), layout="constrained")
    ax = fig.subplots()
    ax.imshow(image, interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig
