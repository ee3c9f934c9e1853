"""TensorBoard logging (`tensorboard = True`; pip install -e ".[tensorboard]").

<run>/tensorboard holds: every metrics.csv column as a scalar per epoch (train/*, val/*, lr,
time/epoch_seconds), the first training batch of epoch 1 as an image (what augmentation did),
and the validation confusion matrix at each new best epoch. `tensorboard --logdir runs` shows
every run, the members of a `separate` group included.
"""
from __future__ import annotations

from base.callbacks import Callback
from base.errors import optional_import
from logger import plots
from logger.run_artifacts import confusion_figure, views


def scalar_tag(column: str) -> str:
    """metrics.csv column -> TensorBoard tag: val_f1_mask -> val/f1_mask, seconds -> time/epoch_seconds."""
    prefix, _, rest = column.partition("_")
    if prefix in ("train", "val") and rest:
        return f"{prefix}/{rest}"
    return {"seconds": "time/epoch_seconds"}.get(column, column)


class TensorBoardLogger(Callback):
    def __init__(self, cfg):
        summary_writer = optional_import("torch.utils.tensorboard", "tensorboard", "tensorboard").SummaryWriter
        self.cfg, self.writer_class, self.writer = cfg, summary_writer, None

    def on_fit_start(self, trainer, train_table, val_table) -> None:
        # purge_step drops what a killed process logged after its last finished epoch.
        self.writer = self.writer_class(str(trainer.run / "tensorboard"), purge_step=len(trainer.history) + 1)
        self.labels, self.scored = val_table["official_label"].to_numpy(), views(trainer.heads)[0]

    def on_train_batch(self, trainer, epoch, step, images) -> None:
        if epoch == 1 and step == 0:
            grid = plots.batch_grid(images, self.cfg.mean, self.cfg.std)
            self.writer.add_image("train/first_batch", grid, epoch, dataformats="HWC")

    def on_epoch_end(self, trainer, row, improved, val_probs) -> None:
        epoch = row["epoch"]
        for column, value in row.items():
            if column != "epoch":
                self.writer.add_scalar(scalar_tag(column), value, epoch)
        if improved:
            figure = confusion_figure(self.labels, val_probs, self.scored, f"epoch {epoch}")
            self.writer.add_image("val/confusion", plots.to_array(figure), epoch, dataformats="HWC")
        self.writer.flush()

    def on_fit_end(self, trainer, best) -> None:
        if self.writer is not None:
            self.writer.close()
