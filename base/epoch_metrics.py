"""What a run records per epoch: metrics.csv's columns, and the log line of its validation scores.

Validation metrics score the official age groups; the *_train_labels columns score the
configured age_thresholds. Which column a run is judged by, and what "better" means there, is
the monitor's to say (base/monitor.py).
"""
from __future__ import annotations

VALIDATION = ("val_f1", "val_acc", "val_f1_mask", "val_f1_gender", "val_f1_age", "val_f1_60plus",
              "val_f1_train_labels", "val_f1_age_train_labels")  # model.metric.validation_metrics' scores
METRICS = ("epoch", "lr", "train_loss", "train_f1", "val_loss", *VALIDATION, "seconds")
MONITORABLE = METRICS[2:-1]  # the scores, not the epoch, lr or time


def scores(row: dict) -> str:
    """A row's validation scores as the log shows them."""
    return (f"val_loss {row['val_loss']:.4f}  val_f1 {row['val_f1']:.4f}  (mask {row['val_f1_mask']:.3f} "
            f"gender {row['val_f1_gender']:.3f} age {row['val_f1_age']:.3f})")
