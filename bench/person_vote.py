"""The person vote measured: validation first, then facebench's eval set, one trained run.

    python bench/person_vote.py --run RUN [--tta flip] [--facebench DIR]

RUN: a run (or group) trained on a facebench build (or a harder one, bench/hard_sittings.py), e.g.
one kept by `python bench/presets.py configs/best.py --keep DIR`. Prints two tables of macro F1
(18 classes, and mask / gender / age): without the vote, with the plain vote, with vote + 5/1/1
masks, each with the groups found from the pictures and with the true persons (the oracle, which
bounds what a grouping can give), plus the share of the oracle's gain the found groups reach and
the pictures whose gender and age the vote made right and made wrong; then the guard's decision
(predict/vote_guard.py, as `inference.py --person-vote assign` takes it from the run's validation)
and the eval table's row for it: what a user who turns the vote on gets.
- validation: the run's validation persons, shuffled, grouped from their pixels alone
  (`inference.py --evaluate --person-vote`, whose grouping is learnt from the other persons);
- eval: facebench's 6,300 eval pictures; the oracle's persons come from the build's file names
  (ImageID = sha1 of "<face file>/<picture name>").
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.errors import UserError, exit_on_user_error  # noqa: E402
from base.run_dir import setup_logging  # noqa: E402
from data_loader.layout import read_eval  # noqa: E402
from model.metric import evaluate  # noqa: E402
from predict import person_groups, person_vote, predictor, vote_guard, vote_run  # noqa: E402

STEMS = ("mask1", "mask2", "mask3", "mask4", "mask5", "incorrect_mask", "normal")


def oracle_persons(facebench: Path, image_ids) -> np.ndarray:
    """The face file each eval ImageID was made from, as build.py names them."""
    faces = sorted((facebench / "faces" / "eval").iterdir())
    person = {hashlib.sha1(f"{f.name}/{stem}".encode()).hexdigest() + ".jpg": f.name for f in faces for stem in STEMS}
    missing = [i for i in image_ids if i not in person]
    if missing:
        raise UserError(f"{len(missing)} eval ImageIDs are not made from {facebench}/faces/eval (e.g. {missing[0]}); "
                        "pass the facebench folder the run's data was built from")
    return np.array([person[i] for i in image_ids])


def row(name: str, probs: np.ndarray, labels: np.ndarray, before: np.ndarray | None = None,
        base: float | None = None, ideal: float | None = None) -> str:
    s = evaluate(probs, labels)
    share = f"{(s['f1'] - base) / (ideal - base):.0%}" if base is not None and ideal not in (None, base) else ""
    moved = "{} / {}".format(*person_vote.changed(before, probs, labels)) if before is not None else ""
    return (f"| {name} | {s['f1']:.4f} | {s['f1_mask']:.4f} | {s['f1_gender']:.4f} | {s['f1_age']:.4f} | "
            f"{s['f1_60plus']:.4f} | {share} | {moved} |")


def table(title: str, probs: np.ndarray, labels: np.ndarray, found: np.ndarray, oracle: np.ndarray,
          guarded: tuple[str, np.ndarray] | None = None) -> str:
    q = person_groups.quality(found, oracle)
    lines = [f"\n{title}: {len(labels)} pictures; grouping ARI {q['ari']:.3f}, {q['pure']:.1%} of pictures in a "
             f"one-person group, {q['groups']} groups ({q['of_seven']} of seven, {q['mixed']} mixing persons, "
             f"{q['singletons']} of one)",
             "| prediction | F1 (18) | mask | gender | age | >=60 | share of the oracle's gain | gender+age made "
             "right / wrong |", "|---|---|---|---|---|---|---|---|", row("no vote", probs, labels)]
    base = evaluate(probs, labels)["f1"]
    for name, assign in (("vote", False), ("vote + 5/1/1 masks", True)):
        ideal = person_vote.vote(probs, oracle, assign)
        ideal_f1 = evaluate(ideal, labels)["f1"]
        lines.append(row(f"{name}, found groups", person_vote.vote(probs, found, assign), labels, probs, base,
                         ideal_f1))
        lines.append(row(f"{name}, true persons", ideal, labels, probs))
    if guarded:
        lines.append(row(guarded[0], guarded[1], labels, probs))
    return "\n".join(lines)


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--tta", default="none", help="comma-separated views, or none (default)")
    ap.add_argument("--facebench", type=Path, default=ROOT.parent / "shared" / "facebench")
    args = ap.parse_args()
    log = setup_logging()
    tta = [v for v in args.tta.split(",") if v not in ("", "none")]
    model = predictor.load(args.run, {})
    started = time.perf_counter()
    val_table, val_probs = model.validation(tta)
    found = vote_run.validation_groups(model.cfg, val_table, log)  # as inference.py --evaluate groups them
    print(table(f"validation (TTA {args.tta})", val_probs, val_table["official_label"].to_numpy(), found,
                val_table["person"].to_numpy()))
    root = Path(model.cfg.data_dir)
    answers = pd.read_csv(root / "eval" / "answers.csv")
    eval_table = read_eval(root).merge(answers[["ImageID", "ans"]], on="ImageID")
    probs = model.predict(eval_table, tta)
    decision = vote_guard.decide(model.cfg, val_table, val_probs, "assign", (eval_table["file"].tolist(), probs))
    print(f"\nthe guard, from validation: {decision.line()}")
    found = vote_run.find_persons(model.cfg, eval_table, log)
    guarded = probs
    if decision.acts:
        groups = vote_run.find_persons(model.cfg, eval_table, log, cut_scale=decision.cut_scale) \
            if decision.cut_scale != 1 else found
        guarded = person_vote.vote(probs, groups, decision.assign, decision.strength)
    oracle = oracle_persons(args.facebench, eval_table["ImageID"])
    print(table(f"facebench eval (TTA {args.tta})", probs, eval_table["ans"].to_numpy(), found, oracle,
                (f"guarded assign: {'strength ' + format(decision.strength, 'g') if decision.acts else 'turned down'}",
                 guarded)))
    print(f"\n{time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
