"""The GPU check's sections, one function each; bench/gpu_check.sh runs each in its own process
under its own time limit (see its header for what each one answers).

    python bench/gpu_check.py SECTION --work DIR [--cpu]

Each section prints one verdict line per check, as soon as it is known:
    <check> PASS|FAIL|SKIP <numbers and the bar they were held to> [seconds]
and exits 1 when one of its checks failed. Sections share nothing but DIR: the demo data the
`data` section makes there, and the runs they train there (inference predicts precision's bf16
run). `--cpu`: the plumbing on tiny sizes, on the CPU; what needs CUDA says SKIP (needs CUDA).
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CUDA_ONLY = "SKIP (needs CUDA)"

# The training runs. On a GPU: config.py's defaults (the quickstart, about 0.99 validation F1 on
# the 400-person demo), so a precision that hurts learning shows in the F1. With --cpu: the
# tests' tiny model and data; the F1 bar is then 0, as only the plumbing is under test.
GPU_RUN = {"device": "cuda", "plots": False}
CPU_RUN = {"device": "cpu", "plots": False, "backbone": "test_resnet", "image_size": (32, 32), "batch_size": 16,
           "epochs": 2, "folds": 3, "num_workers": 0, "inference_batch_size": 32}
F1_BAR = {"gpu": 0.90, "cpu": 0.0}
# Demo data (persons, eval persons, picture size): the runs' set, and the speed set at the
# competition's training size; made side by side, in seconds and in about twenty.
DATA = {"gpu": {"small": (400, 100, (128, 96)), "speed": (200, 100, (384, 288))},
        "cpu": {"small": (36, 4, (64, 48))}}
SPEED = {"112": ("mobilenetv3_small_100", (112, 112)), "384": ("efficientnet_b0", (384, 288))}
STEP_TOLERANCE = 1e-2  # |GPU - CPU update| / largest update: TF32 convolutions (cuDNN's default) err ~1e-3

# Run instead of `python train.py` by the run that is killed: right after it writes the
# checkpoint at `step` of epoch 2 it says so and waits, so the kill -9 lands at a known point
# however fast the machine is; what a resume can use (the files) is what a kill anywhere before
# the next checkpoint leaves.
CHILD = """
import runpy, sys, time
from pathlib import Path
from base import checkpoint_files
ready, step, save = Path(sys.argv.pop(1)), int(sys.argv.pop(1)), checkpoint_files.save
def save_then_wait(path, state):
    save(path, state)
    if Path(path).name == "last.pt" and state["epoch"] == 1 and state.get("step") == step:
        ready.with_suffix(".tmp").write_text(str(Path(path).parent))
        ready.with_suffix(".tmp").rename(ready)  # whole: the check reads it as soon as it exists
        while True:
            time.sleep(1)
checkpoint_files.save = save_then_wait
sys.argv[0] = "train.py"
runpy.run_path("train.py", run_name="__main__")
"""


class Check:
    """The verdicts of one section; `failed` decides its exit code."""

    def __init__(self):
        self.failed, self.started = False, time.perf_counter()

    def say(self, name: str, status: str, detail: str) -> None:
        self.failed |= status == "FAIL"
        print(f"{name:<10} {status} {detail} [{time.perf_counter() - self.started:.0f} s]", flush=True)

    def judge(self, name: str, ok: bool, detail: str) -> None:
        self.say(name, "PASS" if ok else "FAIL", detail)


def sets(knobs: dict) -> list[str]:
    return [arg for knob, value in knobs.items() for arg in ("--set", f"{knob}={value!r}")]


CHILDREN: list[subprocess.Popen] = []


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    """A child in the repository root, its output into `log`, in its own process group (so a kill
    takes its DataLoader workers along)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        CHILDREN.append(subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    return CHILDREN[-1]


def stop_children(*_) -> None:
    """On the section's time limit (SIGTERM): its children are in groups of their own, which the
    limit does not reach; left running they would hold the GPU in the next section."""
    for child in CHILDREN:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    sys.exit(124)


def finish(process: subprocess.Popen, log: Path) -> str:
    """"" when the child ended well, else why not: its exit code and the last line it wrote."""
    if process.wait() == 0:
        return ""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return f"exit {process.returncode}: {lines[-1] if lines else 'no output'} (log {log})"


def run(cmd: list[str], log: Path) -> str:
    return finish(start(cmd, log), log)


def the_run(runs_dir: Path) -> Path:
    for config in Path(runs_dir).glob("*/config.json"):
        return config.parent
    raise FileNotFoundError(f"no run folder in {runs_dir}")


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


class Work:
    """Paths and sizes of one check: the work folder and the mode."""

    def __init__(self, folder: Path, cpu: bool):
        self.dir, self.cpu, self.mode = folder, cpu, "cpu" if cpu else "gpu"
        self.run_knobs = CPU_RUN if cpu else GPU_RUN

    def data(self, name: str = "small") -> Path:
        return self.dir / "data" / name

    def new_run(self, runs: str, **more) -> list[str]:
        """The --set arguments of a run into runs/<runs>, emptied first (KEEP=DIR may hold an older one)."""
        shutil.rmtree(self.dir / "runs" / runs, ignore_errors=True)
        return sets({**self.run_knobs, "data_dir": str(self.data()), "runs_dir": str(self.dir / "runs" / runs),
                     **more})

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"


def data(work: Work, check: Check) -> None:
    """The demo sets every later section trains on, made once, side by side."""
    made = {}
    for name, (persons, eval_persons, size) in DATA[work.mode].items():
        if not (work.data(name) / "eval" / "answers.csv").exists():  # KEEP=DIR: made by an earlier check
            made[name] = start([PY, "-m", "data_loader.demo_data", "--out", str(work.data(name)), "--persons",
                                str(persons), "--eval-persons", str(eval_persons), "--size", ",".join(map(str, size))],
                               work.log(f"data-{name}"))
    errors = [e for name, p in made.items() if (e := finish(p, work.log(f"data-{name}")))]
    sizes = ", ".join(f"{name} {p}+{e} persons at {s[0]}x{s[1]}" for name, (p, e, s) in DATA[work.mode].items())
    check.judge("data", not errors, "; ".join(errors) or f"demo data: {sizes}")


def step(work: Work, check: Check) -> None:
    """One fp32 training step on the GPU and on the CPU, from the same weights and batch."""
    if work.cpu:
        return check.say("step", CUDA_ONLY, "one fp32 training step, GPU against CPU")
    from base import config as config_lib
    from model.heads import head_targets
    from trainer import get_trainer

    # SGD: the update is lr x gradient, so it shows the gradients' difference (Adam's first step
    # is lr x sign(gradient), which a rounding flips where a gradient is near 0).
    cfg = config_lib.load(overrides=[f"{k}={v!r}" for k, v in {
        "data_dir": str(work.data()), "backbone": "mobilenetv3_small_100", "image_size": (112, 112),
        "batch_size": 32, "amp": "off", "channels_last": False, "cudnn_benchmark": False, "optimizer": "sgd",
        "num_workers": 0, "plots": False, "device": "cpu"}.items()])
    trainers = {"cpu": get_trainer(cfg.trainer)(cfg), "gpu": get_trainer(cfg.trainer)(cfg.replace(device="cuda"))}
    trainers["gpu"].model.load_state_dict(trainers["cpu"].model.state_dict())
    loader = trainers["cpu"].loader(trainers["cpu"].split_tables()[0].head(2 * cfg.batch_size), train=True)
    loader.set_epoch(1)
    images, targets = next(iter(loader))
    before = {k: v.detach().clone() for k, v in trainers["cpu"].model.named_parameters()}
    losses = {}
    for name, trainer in trainers.items():
        trainer.steps_per_epoch = len(loader)
        trainer.build_updater()
        trainer.train_model.train()
        with trainer.updater.autocast():
            loss = trainer.loss(trainer.train_model(trainer.to_device(images)),
                                head_targets(targets.to(trainer.device), trainer.specs))
        trainer.updater.backward(loss, 0)
        losses[name] = loss.item()
    after = {name: dict(t.model.named_parameters()) for name, t in trainers.items()}
    diff = max((after["gpu"][k].detach().cpu() - after["cpu"][k].detach()).abs().max().item() for k in before)
    update = max((after["cpu"][k].detach() - before[k]).abs().max().item() for k in before)
    check.judge("step", diff <= STEP_TOLERANCE * update,
                f"max |param GPU - CPU| {diff:.2e} after one SGD step whose largest update is {update:.2e} "
                f"(tolerance {STEP_TOLERANCE:g} x it); loss GPU {losses['gpu']:.6f} CPU {losses['cpu']:.6f} "
                f"({cfg.backbone}, {cfg.image_size[0]}x{cfg.image_size[1]}, batch {cfg.batch_size})")


def precision(work: Work, check: Check) -> None:
    """A bf16 and a forced-fp16 run side by side; each must reach the F1 bar."""
    kinds = ["bf16"] if work.cpu else ["bf16", "fp16"]
    runs = {amp: start([PY, "train.py", *work.new_run(amp, amp=amp)], work.log(amp)) for amp in kinds}
    bar = F1_BAR[work.mode]
    for amp, process in runs.items():
        if error := finish(process, work.log(amp)):
            check.say(amp, "FAIL", error)
            continue
        rows = metrics(the_run(work.dir / "runs" / amp))
        f1 = max(float(r["val_f1"]) for r in rows)
        check.judge(amp, math.isfinite(f1) and f1 >= bar, f"best val_f1 {f1:.4f} (bar {bar:.2f}) in {len(rows)} "
                    f"epochs, last train_loss {float(rows[-1]['train_loss']):.4f}"
                    + (", on the CPU: the plumbing only" if work.cpu else ""))
    if work.cpu:
        check.say("fp16", CUDA_ONLY, "a run with amp=fp16 and its GradScaler")


def resume(work: Work, check: Check) -> None:
    """kill -9 inside epoch 2, train.py --resume: ends where the uninterrupted run ends."""
    import torch

    every = 3 if work.cpu else 20
    # dropout: the result then depends on the restored random streams too; deterministic cuDNN
    # and a fixed layout: two GPU runs can repeat exactly only so
    knobs = {"epochs": 3, "drop_rate": 0.3, "cudnn_benchmark": False, "channels_last": False,
             "checkpoint_every_steps": every}
    ready = work.dir / "resume-ready"
    ready.unlink(missing_ok=True)
    killed = start([PY, "-c", CHILD, str(ready), str(every), *work.new_run("killed", **knobs)], work.log("killed"))
    straight = start([PY, "train.py", *work.new_run("straight", **knobs)], work.log("straight"))
    while not ready.exists() and killed.poll() is None:
        time.sleep(0.1)
    if killed.poll() is not None:
        finish(straight, work.log("straight"))
        return check.say("resume", "FAIL", f"the run ended before its checkpoint at step {every} of epoch 2: "
                         + (finish(killed, work.log("killed")) or "exit 0"))
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    resumed = Path(ready.read_text())
    error = finish(straight, work.log("straight")) or run([PY, "train.py", "--resume", str(resumed)],
                                                          work.log("resumed"))
    if error:
        return check.say("resume", "FAIL", error)
    other = the_run(work.dir / "runs" / "straight")
    mine, theirs = metrics(resumed), metrics(other)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    wa, wb = (torch.load(r / "last.pt", map_location="cpu", weights_only=True)["model"] for r in (resumed, other))
    diff = max((wa[k].double() - wb[k].double()).abs().max().item() for k in wa if wa[k].is_floating_point())
    differs = [k for k in mine[0] if k != "seconds" and [r[k] for r in mine] != [r[k] for r in theirs]] \
        if len(mine) == len(theirs) else ["rows"]
    check.judge("resume", strip(mine) == strip(theirs) and diff == 0,
                f"killed at step {every} of epoch 2, resumed: metrics.csv " + (
                    "identical" if not differs else "differs in " + ", ".join(differs)) + f" ({len(mine)} epochs, "
                f"val_f1 {float(mine[-1]['val_f1']):.4f}), largest final weight difference {diff:.2e}")


def inference(work: Work, check: Check) -> None:
    """The bf16 run predicted on the CPU, and on the GPU: the same answers, and images/s."""
    runs = work.dir / "runs" / "bf16"
    if not any(runs.glob("*/best.pt")):
        return check.say("infer-cpu", "SKIP", "(needs the precision section's bf16 run)")
    devices = ["cpu"] if work.cpu else ["cpu", "cuda"]
    found = {}
    for device in devices:
        name = "infer-cpu" if device == "cpu" else "infer-gpu"
        out = work.dir / f"submission-{device}.csv"
        cmd = [PY, "inference.py", "--run", str(the_run(runs)), "--device", device, "--out", str(out)]
        if error := run(cmd + (["--batch-size", "256"] if device == "cuda" else []), work.log(f"infer-{device}")):
            check.say(name, "FAIL", error)
            continue
        text = work.log(f"infer-{device}").read_text()
        with open(out) as f:
            answers = [row["ans"] for row in csv.DictReader(f)]
        rate = re.search(r"\((\d+) images/s\)", text)
        f1 = re.search(r"macro F1 (\S+)", text)
        found[device] = answers
        check.judge(name, bool(answers), f"{len(answers)} eval pictures, {rate[1] if rate else '?'} "
                    f"images/s, eval F1 {f1[1] if f1 else '?'} (inference.py --device {device})")
    if work.cpu:
        return check.say("infer-gpu", CUDA_ONLY, "the same checkpoint predicted on the GPU, compared")
    if len(found) == 2:  # the two devices' kernels round differently: only pictures near a tie may differ
        same = sum(a == b for a, b in zip(found["cpu"], found["cuda"], strict=True)) / len(found["cpu"])
        check.judge("infer-same", same >= 0.98, f"{same:.2%} of the answers equal on CPU and GPU (bar 98%)")


def syncs(work: Work, check: Check) -> None:
    """Host syncs inside the training step: torch.cuda.set_sync_debug_mode("warn") around
    train_epoch, the every-SYNC_EVERY-steps flush excluded, must count 0."""
    if work.cpu:
        return check.say("syncs", CUDA_ONLY, "host syncs inside the training step")
    import warnings

    import torch

    from base import config as config_lib
    from base.epoch_progress import EpochProgress
    from trainer import get_trainer

    cfg = config_lib.load(overrides=[f"{k}={v!r}" for k, v in {
        "data_dir": str(work.data()), "device": "cuda", "amp": "auto", "channels_last": "auto",
        "backbone": "mobilenetv3_small_100", "image_size": (112, 112), "batch_size": 64, "plots": False}.items()])
    trainer = get_trainer(cfg.trainer)(cfg)
    loader = trainer.loader(trainer.split_tables()[0].head(cfg.batch_size * 40), train=True)
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()
    flush = EpochProgress.flush

    def quiet_flush(self):  # the flush is where the host is meant to wait
        torch.cuda.set_sync_debug_mode(0)
        try:
            flush(self)
        finally:
            torch.cuda.set_sync_debug_mode("warn")

    EpochProgress.flush = quiet_flush
    loader.set_epoch(1)
    trainer.train_epoch(loader, EpochProgress(1, lr=0.0))  # warm-up: cuDNN autotuning, the allocator
    loader.set_epoch(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        trainer.train_epoch(loader, EpochProgress(2, lr=0.0))
        torch.cuda.set_sync_debug_mode(0)
    found = [w for w in caught if "synchroniz" in str(w.message)]
    check.judge("syncs", not found, f"{len(found)} host syncs inside {len(loader)} training steps (flushes "
                "excluded)" + "".join(f"; {w.filename}:{w.lineno}" for w in found[:5]))


def ddp(work: Work, check: Check) -> None:
    """2 processes under torchrun: NCCL on two GPUs; on one GPU (NCCL refuses two processes on one
    GPU) or none, the same DDP path on gloo and the CPU. A run with a disk cache and a weight
    average, that run resumed for one more epoch (rank 0 hands last.pt to the other), and a
    2-fold k-fold group, which must make one folder."""
    gpus = 0
    if not work.cpu:
        import torch

        gpus = torch.cuda.device_count()
    where = {"device": "cuda"} if gpus >= 2 else {"device": "cpu", "amp": "off"}
    how = "NCCL on 2 GPUs" if gpus >= 2 else f"gloo on the CPU, as {gpus} GPU(s) are visible"
    torchrun = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py"]
    knobs = {"epochs": 1, "average_last": 1, "cache": "disk", "cache_dir": str(work.dir / "ddp-cache"), **where}
    if error := run([*torchrun, *work.new_run("ddp", **knobs)], work.log("ddp")):
        return check.say("ddp", "FAIL", error)
    run_dir = the_run(work.dir / "runs" / "ddp")
    rows = metrics(run_dir)
    two = "x 2 processes" in (run_dir / "train.log").read_text()
    check.judge("ddp", two and len(rows) == 1 and math.isfinite(float(rows[0]["val_f1"]))
                and (run_dir / "averaged.csv").is_file(),
                f"2 processes ({how}), val_f1 {float(rows[0]['val_f1']):.4f} after 1 epoch, averaged.pt written"
                + ("" if two else "; but train.log shows 1 process"))
    if error := run([*torchrun, "--resume", str(run_dir), "--set", "epochs=2"], work.log("ddp-resume")):
        return check.say("ddp-resume", "FAIL", error)
    rows = metrics(run_dir)
    check.judge("ddp-resume", [r["epoch"] for r in rows] == ["1", "2"],
                f"resumed by 2 processes: epochs {', '.join(r['epoch'] for r in rows)} in metrics.csv")
    if error := run([*torchrun, *work.new_run("ddp-kfold", kfold=True, folds=2, **where)], work.log("ddp-kfold")):
        return check.say("ddp-kfold", "FAIL", error)
    folders = sorted(p.name for p in (work.dir / "runs" / "ddp-kfold").iterdir())
    group = work.dir / "runs" / "ddp-kfold" / folders[0]
    check.judge("ddp-kfold", len(folders) == 1 and (group / "metrics.csv").is_file(),
                f"a 2-fold k-fold group: {len(folders)} folder(s), group metrics.csv "
                + ("written" if (group / "metrics.csv").is_file() else "missing"))


def speed(work: Work, check: Check, size: str) -> None:
    """bench/speed.py: training images/s against pure compute, bf16, layout auto, compile off and
    on, peak GPU memory; at 384x288 also inference.py's images/s of a short run."""
    backbone, image = SPEED[size]
    name = f"speed-{size}"
    if work.cpu:
        return check.say(name, CUDA_ONLY, f"training images/s of {backbone} at {image[0]}x{image[1]}")
    data = work.data("speed")
    knobs = {"backbone": backbone, "image_size": image, "batch_size": 64, "device": "cuda", "amp": "bf16",
             "num_workers": -1}
    log = work.log(name)
    # two rounds of ten-batch readings: the compiling, a minute or more, is most of the section's time
    process = start([PY, "bench/speed.py", "--data", str(data), *sets(knobs), "--rounds", "2",
                     "--compute-batches", "10", "--compile"], log)
    error = finish(process, log)
    text = log.read_text()
    print("".join(f"    {line}\n" for line in text.splitlines() if line.startswith(("|", "mask18 /", "peak"))),
          end="", flush=True)
    rows = dict(re.findall(r"^\| (.+?) \| (\d+) \|", text, re.M))
    mine = next((v for k, v in rows.items() if k.startswith("mask18 train_epoch (")), "?")
    ratio = re.search(r"mask18 / best pure compute \((\w+)\): (\S+)x", text)
    peak = re.search(r"peak GPU memory: (.+)", text)
    check.judge(name, not error and mine != "?", error or (
        f"{backbone} {image[0]}x{image[1]} bf16: mask18 {mine} images/s = "
        + (f"{ratio[2]}x pure compute ({ratio[1]})" if ratio else "?")
        + f", compile=True pure compute {rows.get('pure compute, compile=True', '?')}, "
        + f"peak GPU memory {peak[1] if peak else '?'}"))
    if size == "384":
        short = work.new_run("infer-384", **knobs, data_dir=str(data), epochs=1, sampler_share=0.1)
        cmd = [PY, "inference.py", "--device", "cuda", "--batch-size", "256", "--out", str(work.dir / "sub-384.csv")]
        error = run([PY, "train.py", *short], work.log("train-384")) or run(
            cmd + ["--run", str(the_run(work.dir / "runs" / "infer-384"))], work.log("infer-384"))
        rate = re.search(r"\((\d+) images/s\)", work.log("infer-384").read_text()) if not error else None
        check.judge("infer-384", bool(rate), error or f"inference.py {rate[1]} images/s on the eval pictures, "
                    f"{backbone} at {image[0]}x{image[1]}, batch 256, bf16")


SECTIONS = {"data": data, "step": step, "precision": precision, "resume": resume, "inference": inference,
            "syncs": syncs, "ddp": ddp, "speed-112": lambda w, c: speed(w, c, "112"),
            "speed-384": lambda w, c: speed(w, c, "384")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("section", choices=list(SECTIONS))
    ap.add_argument("--work", type=Path, required=True, help="the folder the sections share")
    ap.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU; what needs CUDA says SKIP")
    args = ap.parse_args()
    work, check = Work(args.work, args.cpu), Check()
    signal.signal(signal.SIGTERM, stop_children)
    try:
        SECTIONS[args.section](work, check)
    except Exception as err:  # a verdict all the same, the traceback below it
        check.say(args.section, "FAIL", f"crashed: {type(err).__name__}: {err}")
        traceback.print_exc()
    finally:
        for child in CHILDREN:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
