"""The sections of bench/gpu_check.py that train and predict whole runs: precision, resume,
inference, syncs and speed (see bench/gpu_check.sh for what each one answers)."""
from __future__ import annotations

import csv
import math
import os
import re
import signal
import time
from pathlib import Path

from gpu_check_kit import CUDA_ONLY, F1_BAR, PY, Check, Work, finish, gpu_amp, metrics, run, sets, start, the_run
from gpu_check_steps import fp16_step

SPEED = {"112": ("mobilenetv3_small_100", (112, 112)), "384": ("efficientnet_b0", (384, 288))}

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


# The fp16 run clips and accumulates, so that the scaler's unscale comes before the clip, and
# the scale, over two batches, in a whole run too.
RUN_KNOBS = {"bf16": {"amp": "bf16"}, "fp16": {"amp": "fp16", "clip_grad_norm": 5.0, "accumulate_steps": 2}}


def precision(work: Work, check: Check) -> None:
    """One fp16 update against the fp32 one (gpu_check_steps.py), while a bf16 and a forced-fp16
    run train side by side; each run must reach the F1 bar."""
    kinds = ["bf16"] if work.cpu else sorted({gpu_amp(), "fp16"})
    runs = {amp: start([PY, "train.py", *work.new_run(amp, **RUN_KNOBS[amp])], work.log(amp)) for amp in kinds}
    if "bf16" not in kinds:
        check.say("bf16", "SKIP (no native bf16)", "amp='auto' trains in fp16 on this GPU, which the fp16 run "
                  "checks", missing=False)
    fp16_step(work, check)
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
        check.say("fp16", CUDA_ONLY, "a run with amp=fp16, its GradScaler, clipping and accumulation")


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
    """The precision section's bf16 run (fp16 where the GPU has no native bf16) predicted on the
    CPU, and on the GPU: the same answers, and images/s. Without it (`inference` asked for
    alone), a short one is trained first."""
    amp = "bf16" if work.cpu else gpu_amp()
    runs = work.dir / "runs" / amp
    if not any(runs.glob("*/best.pt")):
        runs = work.dir / "runs" / f"infer-{amp}"
        if error := run([PY, "train.py", *work.new_run(runs.name, amp=amp, epochs=2)], work.log(runs.name)):
            return check.say("infer-run", "FAIL", f"the run to predict could not be trained: {error}")
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
    train_epoch, the every-SYNC_EVERY-steps flush excluded, must count 0. Where amp="auto" means
    fp16 (no native bf16), the loss scale's one read per update (base/update.py) is meant too."""
    if work.cpu:
        return check.say("syncs", CUDA_ONLY, "host syncs inside the training step")
    import warnings

    import torch

    from base import config as config_lib
    from base.epoch_progress import EpochProgress
    from base.update import Updater
    from trainer import get_trainer

    cfg = config_lib.load(overrides=[f"{k}={v!r}" for k, v in {
        "data_dir": str(work.data()), "device": "cuda", "amp": "auto", "channels_last": "auto",
        "backbone": "mobilenetv3_small_100", "image_size": (112, 112), "batch_size": 64, "plots": False}.items()])
    trainer = get_trainer(cfg.trainer)(cfg)
    loader = trainer.loader(trainer.split_tables()[0].head(cfg.batch_size * 40), train=True)
    trainer.steps_per_epoch = len(loader)
    trainer.build_updater()

    def quiet(method):  # where the host is meant to wait
        def wrapper(*args, **kwargs):
            torch.cuda.set_sync_debug_mode(0)
            try:
                return method(*args, **kwargs)
            finally:
                torch.cuda.set_sync_debug_mode("warn")
        return wrapper

    EpochProgress.flush = quiet(EpochProgress.flush)
    scaled = trainer.updater.scaler.is_enabled()
    if scaled:
        Updater._update_scale = quiet(Updater._update_scale)
        torch.amp.GradScaler.step = quiet(torch.amp.GradScaler.step)  # a plain optimizer's inf check
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
                + ("and fp16's loss-scale reads " if scaled else "") + "excluded)"
                + "".join(f"; {w.filename}:{w.lineno}" for w in found[:5]))


def speed(work: Work, check: Check, size: str) -> None:
    """bench/speed.py: training images/s against pure compute, bf16, layout auto, compile off and
    on, peak GPU memory; at 384x288 also inference.py's images/s of a short run."""
    backbone, image = SPEED[size]
    name = f"speed-{size}"
    if work.cpu:
        return check.say(name, CUDA_ONLY, f"training images/s of {backbone} at {image[0]}x{image[1]}")
    data = work.data("speed")
    amp = gpu_amp()
    knobs = {"backbone": backbone, "image_size": image, "batch_size": 64, "device": "cuda", "amp": amp,
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
        f"{backbone} {image[0]}x{image[1]} {amp}: mask18 {mine} images/s = "
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
                    f"{backbone} at {image[0]}x{image[1]}, batch 256, {amp}")


