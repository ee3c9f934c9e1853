"""Decision offsets and the person vote, measured paired on the same checkpoints: for each kept
run, facebench's eval macro F1 (and the `>=60` F1) with the plain argmax, with "head" and "class"
offsets, with the guarded vote, and with head offsets then the guarded vote; each decided from the
run's own validation exactly as inference.py decides it. Then per preset the mean and standard
deviation over the runs, and the paired gains.

    python bench/decisions.py RUN [RUN ...] [--tta flip] [--vote]
    python bench/decisions.py /keep/P2/*/*-2026* --tta flip --vote    # runs kept by bench/presets.py --keep

RUN: a run folder trained on a facebench build (its data_dir has eval/answers.csv). The preset of
a run is its config's `name`. Without --vote only the offsets are scored (the vote's grouping
takes a minute or two a run).
"""
from __future__ import annotations

import argparse
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
from predict import offsets, person_vote, predictor, vote_guard, vote_run  # noqa: E402


def scored(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    s = evaluate(probs, labels)
    return s["f1"], s["f1_60plus"]


def measure(run: Path, model, tta: list[str], with_vote: bool, log) -> dict:
    """{setting: (eval macro F1, eval >=60 F1)} of one run (`model`, loaded from it), and what the
    decisions chose."""
    root = Path(model.cfg.data_dir)
    if not (root / "eval" / "answers.csv").is_file():
        raise UserError(f"{run}: its data_dir {root} has no eval/answers.csv; pass runs trained on facebench")
    answers = pd.read_csv(root / "eval" / "answers.csv")
    eval_table = read_eval(root).merge(answers[["ImageID", "ans"]], on="ImageID")
    labels = eval_table["ans"].to_numpy()
    val_table, val_probs = model.validation(tta)
    probs = model.predict(eval_table, tta)
    out = {"preset": model.cfg.name or run.name, "seed": model.cfg.seed, "plain": scored(probs, labels)}
    shifts = {}
    for mode in ("head", "class"):
        shifts[mode] = offsets.decide(val_table, val_probs, mode, model.cfg.seed)
        log.info(f"{run.name}: {shifts[mode].line()}")
        out[f"offsets {mode}"] = scored(shifts[mode].apply(probs), labels)
    if with_vote:
        for name, shift in (("vote", offsets.Offsets()), ("offsets head + vote", shifts["head"])):
            eval_probs = shift.apply(probs)
            decision = vote_guard.decide(model.cfg, val_table, shift.apply(val_probs), "vote",
                                         (eval_table["file"].tolist(), eval_probs))
            log.info(f"{run.name}, {name}: {decision.line()}")
            if decision.acts:
                groups = vote_run.find_persons(model.cfg, eval_table, log, cut_scale=decision.cut_scale)
                eval_probs = person_vote.vote(eval_probs, groups, decision.assign, decision.strength)
            out[name] = scored(eval_probs, labels)
    return out


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (config.json inside)")
    ap.add_argument("--tta", default="run", help="comma-separated views, none, or run: each run's own tta knob")
    ap.add_argument("--vote", action="store_true", help="also the guarded person vote (slower)")
    args = ap.parse_args()
    log = setup_logging()
    rows = []
    for run in args.runs:
        if not (run / "config.json").is_file():
            raise UserError(f"{run}: no config.json; pass run folders made by train.py")
        started = time.perf_counter()
        model = predictor.load(run, {})
        tta = model.cfg.tta if args.tta == "run" else [v for v in args.tta.split(",") if v not in ("", "none")]
        row = measure(run, model, tta, args.vote, log)
        rows.append(row)
        cells = " | ".join(f"{k} {v[0]:.4f} / {v[1]:.3f}" for k, v in row.items() if isinstance(v, tuple))
        print(f"{row['preset']} seed {row['seed']} ({time.perf_counter() - started:.0f}s): {cells}", flush=True)
    settings = [k for k in rows[0] if isinstance(rows[0][k], tuple)]
    print("\n| preset | setting | runs | eval F1 (18) mean | std | paired gain over plain | std | >=60 F1 mean |")
    print("|---|---|---|---|---|---|---|---|")
    for preset in dict.fromkeys(r["preset"] for r in rows):
        mine = [r for r in rows if r["preset"] == preset]
        plain = np.array([r["plain"][0] for r in mine])
        for setting in settings:
            f1 = np.array([r[setting][0] for r in mine])
            old = np.array([r[setting][1] for r in mine])
            gain = f1 - plain
            std = (lambda a: f"{a.std(ddof=1):.4f}" if len(a) > 1 else "n/a")
            print(f"| {preset} | {setting} | {len(mine)} | {f1.mean():.4f} | {std(f1)} | "
                  f"{gain.mean():+.4f} | {std(gain)} | {old.mean():.3f} |")


if __name__ == "__main__":
    main()
