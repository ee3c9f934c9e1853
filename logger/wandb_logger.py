"""Weights & Biases logging (`wandb = True`; pip install -e ".[wandb]").

Each run is one W&B run named after its folder, with the resolved config; the members of a
`separate` group share the group's name as their W&B group. Logged: every metrics.csv column
per epoch (step = epoch), the first training batch of epoch 1, the validation confusion matrix
at each new best epoch, and the best epoch's metrics as the run summary.

`wandb_mode = "offline"` (the default) writes everything under <run>/wandb and needs no
network or account; `wandb sync <run>/wandb/offline-run-*` uploads it later. "online" streams
to the server (after `wandb login`).
"""
from __future__ import annotations

import re

from base.callbacks import Callback
from base.errors import optional_import
from base.group_file import GROUP_FILE
from logger import plots
from logger.run_artifacts import confusion_figure, views


class WandbLogger(Callback):
    def __init__(self, cfg):
        self.cfg, self.wandb, self.wandb_run = cfg, optional_import("wandb", "wandb", "wandb"), None

    def on_fit_start(self, trainer, train_table, val_table) -> None:
        run = trainer.run
        group = run.parent.name if (run.parent / GROUP_FILE).is_file() else None
        name = f"{group}-{run.name}" if group else run.name
        # The id is the folder's name, so a resumed run continues its W&B run instead of starting one.
        self.wandb_run = self.wandb.init(
            project=self.cfg.wandb_project, name=name, id=re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64],
            group=group, dir=str(run), mode=self.cfg.wandb_mode, resume="allow",
            settings=self.wandb.Settings(console="off", silent=True),
        )
        # A resumed run may have changed epochs or patience: let the new values stand.
        self.wandb_run.config.update(self.cfg.to_dict(), allow_val_change=True)
        self.labels, self.scored = val_table["official_label"].to_numpy(), views(trainer.heads)[0]

    def on_train_batch(self, trainer, epoch, step, images) -> None:
        if epoch == 1 and step == 0:
            grid = plots.batch_grid(images, self.cfg.mean, self.cfg.std)
            self.wandb_run.log({"train/first_batch": self.wandb.Image(grid)}, step=epoch)

    def on_epoch_end(self, trainer, row, improved, val_probs) -> None:
        epoch = row["epoch"]
        logged = {k: v for k, v in row.items() if k != "epoch"}
        if improved:
            figure = confusion_figure(self.labels, val_probs, self.scored, f"epoch {epoch}")
            logged["val/confusion"] = self.wandb.Image(plots.to_array(figure))
        self.wandb_run.log(logged, step=epoch)

    def on_fit_end(self, trainer, best) -> None:
        if self.wandb_run is not None:
            self.wandb_run.summary.update({f"best/{k}": v for k, v in best.items()})
            self.wandb_run.finish()
