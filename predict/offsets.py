"""Decision offsets: log-offsets toward the rare classes, fitted on validation to maximise macro F1.

Argmax of calibrated probabilities maximises accuracy, not macro F1: where classes are as uneven
as here (`>=60` is 7% of persons) a nudge toward the rare ones trades a few common-class hits
for many rare-class ones. The offsets are added to the (N, 18) log-probabilities before argmax:

    "head"   8 numbers, one per class of each head (3 mask, 2 gender, 3 age): class c of the 18
             gets o_mask[m(c)] + o_gender[g(c)] + o_age[a(c)]; few numbers, little to overfit
    "class"  18 numbers, one per class

They are fitted by coordinate ascent over a grid (GRID), and only on persons: each fit is made
on a random half of the validation persons and scored on the other half, SPLITS times both ways;
the offsets kept are the mean of those half-fits (which shrinks a rare class's noisy offset
toward what most halves agree on), and their gain is the mean gain on the halves they were not
fitted on. When that gain is not above zero no offsets are applied, so they never lower the
macro F1 they are judged by. scikit-learn has no macro-F1 threshold search for 18 classes, hence
these lines.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_loader.labels import HEAD_SIZES, NUM_CLASSES, decode
from predict.kept import Kept
from predict.vote_guard import macro_f1

FILE = "offsets.json"
GRID = np.round(np.arange(-2.0, 2.01, 0.1), 2)
ROUNDS = 3
SPLITS = 5
FIT = f"grid {GRID[0]}..{GRID[-1]}/{len(GRID)}, {ROUNDS} rounds, {SPLITS} splits"  # kept offsets.json must match
MODES = ("off", "head", "class")
_HEAD_OF = np.stack([np.array(decode(np.arange(NUM_CLASSES))[i]) for i in range(3)])  # (3, 18): mask, gender, age


@dataclass
class Offsets(Kept):
    """What inference adds to the log-probabilities, and the validation figures behind it."""

    mode: str = "off"
    values: list[float] = field(default_factory=lambda: [0.0] * NUM_CLASSES)  # per class of the 18
    params: dict = field(default_factory=dict)  # "head": {head: [per class]}; "class": {"class": [18]}
    figures: dict = field(default_factory=dict)
    reason: str = ""
    key: dict = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        return any(v != 0 for v in self.values)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """`probs` with the offsets applied (renormalised rows), for argmax and the person vote."""
        if not self.acts:
            return probs
        return shifted(probs, np.asarray(self.values))

    def line(self) -> str:
        f = self.figures
        if "base_f1" not in f:
            return f"decision offsets {self.mode}: {self.reason}"
        verb = "applied" if self.acts else "not applied"
        return (f"decision offsets {self.mode}: {verb}: on {f['persons']} validation persons, fitted on halves and "
                f"scored on the other halves, macro F1 {f['base_f1']:.4f} -> {f['base_f1'] + f['gain']:.4f} "
                f"({f['gain']:+.4f}; >=60 F1 {f['base_60']:.3f} -> {f['base_60'] + f['gain_60']:.3f}); {self.reason}")


def shifted(probs: np.ndarray, values: np.ndarray) -> np.ndarray:
    logits = np.log(np.clip(probs, 1e-12, None)) + values
    logits -= logits.max(1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(1, keepdims=True)


def per_class(mode: str, params: np.ndarray) -> np.ndarray:
    """The 18 offsets of a parameter vector: "head" has 8 (mask 3, gender 2, age 3), "class" 18."""
    if mode == "class":
        return params
    starts = np.cumsum([0, *HEAD_SIZES.values()])[:-1]
    return sum(params[start + _HEAD_OF[i]] for i, start in enumerate(starts))


def fit(log_probs: np.ndarray, truth: np.ndarray, mode: str) -> np.ndarray:
    """Parameters maximising macro F1 of argmax(log_probs + offsets), by coordinate ascent over
    GRID, ROUNDS times over the parameters (only a strict gain moves a parameter; its values are
    tried from the smallest offset out)."""
    params = np.zeros(NUM_CLASSES if mode == "class" else sum(HEAD_SIZES.values()))
    best = macro_f1(truth, (log_probs + per_class(mode, params)).argmax(1))
    for _ in range(ROUNDS):
        moved = False
        for i in range(len(params)):
            for value in sorted(GRID, key=abs):
                trial = params.copy()
                trial[i] = value
                score = macro_f1(truth, (log_probs + per_class(mode, trial)).argmax(1))
                if score > best + 1e-12:
                    best, params, moved = score, trial, True
        if not moved:
            break
    return params


def decide(table: pd.DataFrame, probs: np.ndarray, mode: str, seed: int = 0) -> Offsets:
    """Offsets for validation `table` (person, official_label) and its (N, 18) probabilities:
    fitted on person halves, judged on the other halves, applied only when that gain is positive."""
    if mode == "off":
        return Offsets(mode, reason="off")
    truth, persons = table["official_label"].to_numpy(), table["person"].astype(str).to_numpy()
    log_probs, names = np.log(np.clip(probs, 1e-12, None)), np.unique(persons)
    rng, fits, gains, gains_60 = np.random.default_rng(seed), [], [], []
    for _ in range(SPLITS):
        half = np.isin(persons, rng.permutation(names)[: len(names) // 2])
        for on, off in ((half, ~half), (~half, half)):
            params = fit(log_probs[on], truth[on], mode)
            fits.append(params)
            plain, moved = log_probs[off].argmax(1), (log_probs[off] + per_class(mode, params)).argmax(1)
            gains.append(macro_f1(truth[off], moved) - macro_f1(truth[off], plain))
            gains_60.append(_f1_60(truth[off], moved) - _f1_60(truth[off], plain))
    params = np.mean(fits, axis=0)
    base = probs.argmax(1)
    figures = {"persons": len(names), "pictures": len(table), "base_f1": macro_f1(truth, base),
               "base_60": _f1_60(truth, base), "gain": float(np.mean(gains)), "gain_std": float(np.std(gains)),
               "gain_60": float(np.mean(gains_60)), "splits": len(gains)}
    named = _named(mode, params)
    if figures["gain"] <= 0:
        return Offsets(mode, params=named, figures=figures, reason="they do not raise macro F1 on persons they "
                       "were not fitted on, so the plain argmax stays")
    return Offsets(mode, [float(v) for v in per_class(mode, params)], named, figures,
                   reason=f"the mean of {len(fits)} half-fits")


def _f1_60(truth: np.ndarray, pred: np.ndarray) -> float:
    """F1 of the >=60 age group (where macro F1 is won)."""
    old_t, old_p = truth % 3 == 2, pred % 3 == 2
    both = (old_t & old_p).sum()
    return float(2 * both / max(1, old_t.sum() + old_p.sum()))


def _named(mode: str, params: np.ndarray) -> dict:
    if mode == "class":
        return {"class": [round(float(v), 3) for v in params]}
    out, start = {}, 0
    for head, size in HEAD_SIZES.items():
        out[head] = [round(float(v), 3) for v in params[start:start + size]]
        start += size
    return out
