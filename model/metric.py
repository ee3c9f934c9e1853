"""The competition's metric (macro F1 over the 18 classes) and its per-head views.

Macro F1 averages over the classes present in the truth or the prediction, as scikit-learn
and the competition's scorer do. Per-head F1 decodes the 18-class prediction, so it compares
across trainers whatever their heads.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from data_loader.labels import decode


def macro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(truth, pred, average="macro", zero_division=0))


def validation_metrics(probs: np.ndarray, table) -> dict[str, float]:
    """metrics.csv's val_* scores of a validation table's (N, 18) probabilities: against the
    official labels, plus the 18-class and age F1 against the training (relabelled) ones."""
    row = {f"val_{k}": v for k, v in evaluate(probs, table["official_label"].to_numpy()).items()}
    trained = evaluate(probs, table["label"].to_numpy())
    row.update(val_f1_train_labels=trained["f1"], val_f1_age_train_labels=trained["f1_age"])
    return row


def evaluate(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """f1, acc, f1_mask / f1_gender / f1_age and f1_60plus of (N, 18) probabilities against 18-class labels."""
    pred = probs.argmax(axis=1)
    out = {"f1": macro_f1(labels, pred), "acc": float((pred == labels).mean())}
    for name, t, p in zip(("mask", "gender", "age"), decode(labels), decode(pred), strict=True):
        out[f"f1_{name}"] = macro_f1(t, p)
    # The rare group the competition was won on: >=60 against the rest.
    out["f1_60plus"] = float(f1_score(decode(labels)[2] == 2, decode(pred)[2] == 2, zero_division=0))
    return out
