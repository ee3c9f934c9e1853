"""The person vote's guard: measure what the vote does to validation macro F1, then act on it.

A vote helps where a person's pictures group well and the model's pictures of one person err
independently; it hurts where groups mix persons (sittings whose photos differ) or where the
consensus of a strong model's pictures pulls borderline rare-class pictures towards the common
classes. Neither shows in the grouping alone, so the guard asks validation:

1. the validation pictures of persons held out from the grouping's fit (a run's validation
   persons; of a k-fold group's out-of-fold table, a quarter of the persons) are grouped from
   their pixels, shuffled, among the eval pictures (with their probabilities), so they meet as
   many other persons as the eval pictures do: a grouping that holds among 540 persons can mix
   them among 2,340 (on the harder facebench, adjusted Rand index 0.22 alone, 0.18 on the eval set);
2. with the probabilities the submission would use (same runs, weights and TTA views), every
   setting of the vote is scored: the grouping cut (the calibrated one, or tighter by CUT_SCALES),
   the vote's `strength` (predict/person_vote.py) and, for "assign", the 5/1/1 masks or not;
3. the setting with the best validation macro F1 is preferred to the plain vote (strength 1,
   calibrated cut) only when choosing that way pays on persons the choice was not made on (the
   persons halved at random, chosen on one half, scored on the other: `tuning_gain`); the best
   of two dozen settings on the persons it was picked on flatters itself (on facebench under
   protocol P by +0.012 in-sample, -0.002 on the eval set). The setting kept then acts only when
   it gains on persons it was not chosen on (when it is not the plain vote), and it beats no
   vote on at least CONFIDENCE of RESAMPLES resamples of the validation persons
   (`beats`; a gain inside the noise is not worth the risk), and the same vote over random groups
   of the found sizes on CHANCE_CONFIDENCE of them (a weak model's votes over any groups can raise
   macro F1 by mixing its classes: that gain is not the persons'). Otherwise the vote is turned
   down: strength 0.

Why 80%: macro F1 over 18 classes, some of a few persons, is noisy. On facebench under protocol P
the plain vote's +0.019 on 540 validation persons (+0.023 on the 900 eval persons) beats no vote
in 86% of the resamples; 80% is about one standard error, one-sided. A vote that costs 0.013 on
the eval set would need to show a validation gain 1.6 standard errors above its true effect to
pass (about 5% of the time), and one that costs 0.06, as on badly grouped sittings, never does.

The decision, its figures and what it was decided for go to person_vote.json (the run folder,
and beside the submission); inference applies it and logs one line. bench/person_vote.py
scores the decision on a held-out eval set.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from base.errors import UserError
from predict import person_groups, person_vote
from predict.kept import Kept

STRENGTHS = (0.25, 0.5, 0.75, 1.0)
CUT_SCALES = (1.0, 0.8, 0.6)   # the calibrated cut, and tighter ones (purer, smaller groups)
RESAMPLES = 200
CONFIDENCE = 0.8               # share of resamples in which the kept setting must beat no vote
CHANCE_CONFIDENCE = 0.9        # ... and the same vote over random groups of the found sizes
SPLITS = 5                     # halvings of the validation persons that check the choice of setting
RANDOM_GROUPINGS = 20          # groupings of the found sizes but random pictures: the vote's chance level
MIN_FIT_SHARE = 0.5            # of all training persons, at least this many stay for the grouping's fit
FILE = "person_vote.json"


@dataclass
class Decision(Kept):
    """What the vote does at inference, and the validation figures it was decided from."""

    mode: str                      # asked for: "vote" or "assign"
    strength: float = 0.0          # 0: no vote
    cut_scale: float = 1.0         # times the grouping's calibrated cut
    assign: bool = False
    reason: str = ""               # why it acts, weakens or turns down
    figures: dict = field(default_factory=dict)
    key: dict = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        return self.strength > 0

    def line(self) -> str:
        """The one line inference prints."""
        f = self.figures
        if "base_f1" not in f:
            verb = "applied in full" if self.acts else "turned down"
            return f"person vote {self.mode}: {verb}: {self.reason}"
        among = f" among the {f['among']} eval pictures" if f.get("among") else ""
        where = (f"on {f['persons']} validation persons ({f['pictures']} pictures, grouped{among} as eval pictures "
                 f"are: adjusted Rand index {f['ari']:.3f})")
        full = f"; the plain vote gives {f['full_f1']:.4f}, the true persons {f['oracle_f1']:.4f}" + (
            f" (decided in {f['seconds']:.0f}s)" if "seconds" in f else "")
        if not self.acts:
            return (f"person vote {self.mode}: turned down: {where} its best setting gives macro F1 "
                    f"{f['base_f1']:.4f} -> {f['chosen_f1']:.4f}, {self.reason}{full}; no vote applied")
        setting = (f"strength {self.strength:g}, cut x{self.cut_scale:g}"
                   + (", 5/1/1 masks" if self.assign else ""))
        verb = "applied" if self.strength == 1 else "applied, weakened"
        return (f"person vote {self.mode}: {verb} ({setting}): {where} macro F1 {f['base_f1']:.4f} -> "
                f"{f['chosen_f1']:.4f}, {self.reason}{full}")


def plain(mode: str) -> Decision:
    """The vote as asked, unguarded (person_vote_guard = False)."""
    return Decision(mode, strength=1.0, assign=mode == "assign",
                    reason="unguarded, not measured on validation (person_vote_guard off)")


def macro_f1(truth: np.ndarray, pred: np.ndarray, classes: int = 18) -> float:
    """Macro F1 over the classes present in truth or prediction, as scikit-learn's: written out
    with one bincount because the guard scores it tens of thousands of times."""
    counts = np.bincount(truth * classes + pred, minlength=classes * classes).reshape(classes, classes)
    hit, true, said = np.diag(counts), counts.sum(1), counts.sum(0)
    present = (true + said) > 0
    return float((2 * hit[present] / (true + said)[present]).mean())


def evaluation_persons(table: pd.DataFrame, all_persons: int, seed: int) -> np.ndarray:
    """The validation persons the vote is scored on: all of them, unless that would leave fewer
    than MIN_FIT_SHARE of the training persons to fit the grouping on (k-fold's out-of-fold table
    holds every person): then a random quarter."""
    persons = np.unique(table["person"].astype(str))
    if all_persons - len(persons) >= MIN_FIT_SHARE * all_persons:
        return persons
    return np.random.default_rng(seed).choice(persons, max(1, all_persons // 4), replace=False)


def scored_rows(cfg, table: pd.DataFrame) -> np.ndarray:
    """Which rows of a validation table the vote is scored on: those of `evaluation_persons`."""
    from data_loader.split import load_table

    all_persons = load_table(cfg)[0]["person"].nunique()
    return np.isin(table["person"].astype(str), evaluation_persons(table, all_persons, cfg.seed))


def decide(cfg, table: pd.DataFrame, probs: np.ndarray, mode: str,
           among: tuple[list[str], np.ndarray] | None = None) -> Decision:
    """The vote's setting for these validation probabilities (module doc). `among`: the eval
    pictures' files and probabilities, which the validation pictures are grouped among, so that
    they meet as many strangers as the eval pictures will."""
    scored = scored_rows(cfg, table)
    table, probs = table[scored].reset_index(drop=True), np.asarray(probs, np.float64)[scored]
    order = np.random.default_rng(0).permutation(len(table))  # as an eval set: shuffled
    table, probs = table.iloc[order].reset_index(drop=True), probs[order]
    try:
        grouper = person_groups.for_config(cfg, leave_out=table["person"].unique())
    except (UserError, ValueError) as error:
        return Decision(mode, reason=f"no grouping could be learnt without the validation persons ({error})")
    files, pooled = table["file"].tolist(), probs
    if among is not None:
        files, pooled = files + list(among[0]), np.concatenate([probs, np.asarray(among[1], np.float64)])
    tree = person_groups._tree(grouper.embed(files))
    cuts = {s: person_groups._cut(tree, len(files), grouper.cut * s, grouper.largest) for s in CUT_SCALES}
    settings = [(s, st, a) for s in CUT_SCALES for st in STRENGTHS
                for a in ((False, True) if mode == "assign" else (False,))]
    n, truth, persons = len(table), table["official_label"].to_numpy(), table["person"].astype(str).to_numpy()
    preds = {k: person_vote.vote(pooled, cuts[k[0]], k[2], k[1])[:n].argmax(1) for k in settings}
    base, plain = probs.argmax(1), (1.0, 1.0, mode == "assign")  # no vote; the vote at full strength
    figures = {"persons": int(len(np.unique(persons))), "pictures": n, "among": len(files) - n,
               "base_f1": macro_f1(truth, base), "cut": grouper.cut,
               "ari": person_groups.quality(cuts[1.0][:n], persons)["ari"],
               "full_f1": macro_f1(truth, preds[plain]),
               "oracle_f1": macro_f1(truth, person_vote.vote(probs, persons, plain[2]).argmax(1))}
    best = choose(truth, base, preds, plain, persons, figures)
    return judge(mode, best, plain, truth, base, preds, persons, figures,
                 lambda: chance_vote(truth, pooled, cuts[best[0]], best, n))


def choose(truth: np.ndarray, base: np.ndarray, preds: dict, plain: tuple, persons: np.ndarray,
           figures: dict) -> tuple:
    """The setting to judge: the best on validation where choosing pays on persons it was not
    chosen on (`tuning_gain`), else the plain vote. Records its figures in `figures`."""
    best = max(preds, key=lambda k: macro_f1(truth, preds[k]))  # the first of equals: the mildest listed first
    if best != plain:
        over_plain, over_base = tuning_gain(truth, preds, plain, base, persons)
        figures.update(tuned_f1=macro_f1(truth, preds[best]), held_out_gain_over_plain=over_plain,
                       held_out_gain=over_base)
        if not over_plain > 0:  # NaN (a half without persons) too
            best = plain  # choosing among settings does not pay on persons it was not chosen on
    figures["chosen_f1"] = macro_f1(truth, preds[best])
    return best


def judge(mode: str, best: tuple, plain: tuple, truth: np.ndarray, base: np.ndarray, preds: dict,
          persons: np.ndarray, figures: dict, chance) -> Decision:
    """Act with `best` only where validation shows it beats no vote beyond the noise, and beats
    the same vote over random groups (module doc, step 3)."""
    gain = f"{figures['chosen_f1'] - figures['base_f1']:+.4f}"
    if figures["chosen_f1"] <= figures["base_f1"]:
        return Decision(mode, reason="it does not beat no vote", figures=figures)
    if best != plain and not figures["held_out_gain"] > 0:  # choose() measured it
        return Decision(mode, reason=f"{gain} where it was chosen, {figures['held_out_gain']:+.4f} on the persons "
                        "it was not chosen on", figures=figures)
    sure = figures["beats_no_vote"] = beats(truth, base, preds[best], persons)
    if sure < CONFIDENCE:
        return Decision(mode, reason=f"{gain}, within the noise: it beats no vote in {sure:.0%} of {RESAMPLES} "
                        f"resamples of the persons ({CONFIDENCE:.0%} needed)", figures=figures)
    figures["random_groups_f1"], chance_pred = chance()
    above = figures["beats_random_groups"] = beats(truth, chance_pred, preds[best], persons)
    if above < CHANCE_CONFIDENCE:
        return Decision(mode, reason=f"{gain}, but random groups of the same sizes give "
                        f"{figures['random_groups_f1']:.4f} (the found groups beat them in {above:.0%} of the "
                        "resamples): the gain does not come from finding persons", figures=figures)
    return Decision(mode, strength=best[1], cut_scale=best[0], assign=best[2], figures=figures,
                    reason=f"{gain}, better than no vote in {sure:.0%} of {RESAMPLES} resamples of the persons")


def chance_vote(truth: np.ndarray, probs: np.ndarray, groups: np.ndarray, setting: tuple, n: int,
                seed: int = 0) -> tuple[float, np.ndarray]:
    """The setting's vote over groups of the found sizes but random pictures, the median of
    RANDOM_GROUPINGS of them: (its macro F1, its first `n` predictions, the validation pictures').
    What the vote does without finding anyone: a weak model's votes over any groups can raise
    macro F1 by mixing its classes."""
    rng = np.random.default_rng(seed)
    preds = [person_vote.vote(probs, rng.permutation(groups), setting[2], setting[1])[:n].argmax(1)
             for _ in range(RANDOM_GROUPINGS)]
    scores = [macro_f1(truth, p) for p in preds]
    median = int(np.argsort(scores)[len(scores) // 2])
    return scores[median], preds[median]


def tuning_gain(truth: np.ndarray, preds: dict, plain: tuple, base: np.ndarray, persons: np.ndarray,
                seed: int = 0) -> tuple[float, float]:
    """What choosing the best setting gains on persons it was not chosen on: the validation
    persons halved at random SPLITS times, the setting chosen on one half and scored on the
    other, both ways. (mean gain over the plain vote, mean gain over no vote)."""
    rng, names, over_plain, over_base = np.random.default_rng(seed), np.unique(persons), [], []
    for _ in range(SPLITS):
        first = np.isin(persons, rng.permutation(names)[:len(names) // 2])
        for chosen_on, scored_on in ((first, ~first), (~first, first)):
            pick = max(preds, key=lambda k: macro_f1(truth[chosen_on], preds[k][chosen_on]))
            score = macro_f1(truth[scored_on], preds[pick][scored_on])
            over_plain.append(score - macro_f1(truth[scored_on], preds[plain][scored_on]))
            over_base.append(score - macro_f1(truth[scored_on], base[scored_on]))
    return float(np.mean(over_plain)), float(np.mean(over_base))


def beats(truth: np.ndarray, before: np.ndarray, after: np.ndarray, persons: np.ndarray, seed: int = 0) -> float:
    """The share of RESAMPLES resamples of the persons in which `after` has the higher macro F1.
    Persons are drawn with replacement within their gender and age (each person's pictures
    together), so every class keeps its support, as a test set of the competition's shares does:
    the noise measured is which persons were drawn, not how many of each kind."""
    names, inverse = np.unique(persons, return_inverse=True)
    kind = np.zeros(len(names), np.int64)
    kind[inverse] = truth % 6  # a person's gender and age
    members = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[members], np.arange(len(names) + 1))
    strata = [np.flatnonzero(kind == k) for k in np.unique(kind)]
    rng, wins = np.random.default_rng(seed), 0
    for _ in range(RESAMPLES):
        drawn = np.concatenate([rng.choice(stratum, len(stratum)) for stratum in strata])
        rows = np.concatenate([members[starts[p]:starts[p + 1]] for p in drawn])
        wins += macro_f1(truth[rows], after[rows]) > macro_f1(truth[rows], before[rows])
    return wins / RESAMPLES
