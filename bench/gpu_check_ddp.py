"""The `ddp` section of bench/gpu_check.py: two processes under torchrun, on the GPU.

NCCL where two GPUs are visible; on a machine with one, both processes share it over gloo
(`ddp_backend = "gloo"`: gloo carries CUDA tensors, NCCL refuses two processes on one GPU), so
AMP, the GradScaler, channels_last gradient buckets and buffer syncing run on CUDA all the same.
The run accumulates three batches per update, clips, keeps an EMA and has dropout, so each
process's gradients differ; bench/ddp_checksums.py then compares every rank's parameters, saved
weights, optimizer state and loss scale, which must be equal: a DDP that never all-reduced
diverges in the first update. Then the run is resumed by two processes, compared again, and a
2-fold k-fold group must make one folder.
"""
from __future__ import annotations

import json
import math

from gpu_check_kit import PY, Check, Work, metrics, run, the_run

KNOBS = {"epochs": 1, "accumulate_steps": 3, "ema": True, "clip_grad_norm": 5.0, "drop_rate": 0.3,
         "average_last": 1, "cache": "disk"}


def placement(work: Work) -> tuple[dict, str]:
    """The knobs that put the two processes where this machine can, and how that reads."""
    if work.cpu:
        return {"device": "cpu", "amp": "off"}, "gloo on the CPU"
    import torch

    gpu = {"device": "cuda", "amp": "fp16", "channels_last": True}
    if torch.cuda.device_count() >= 2:
        return gpu, "NCCL on 2 GPUs, fp16"
    return {**gpu, "ddp_backend": "gloo"}, "gloo, both processes on the one GPU, fp16"


def same_state(check: Check, name: str, sums: dict | None, what: str) -> bool:
    ok = bool(sums) and sums["ranks"] == 2 and sums["tensors"] > 0 and not sums["differ"]
    detail = "no checksums written" if not sums else (
        f"{sums['tensors']} tensors hashed on {sums['ranks']} ranks, {len(sums['differ'])} differ"
        + (f" (first: {', '.join(sums['differ'][:3])})" if sums["differ"] else ""))
    check.judge(name, ok, f"{what}: {detail}")
    return ok


def checksums(path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def ddp(work: Work, check: Check) -> None:
    where, how = placement(work)
    probe = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "bench/ddp_checksums.py"]
    sums = work.dir / "ddp-checksums.json"
    sums.unlink(missing_ok=True)
    knobs = {**KNOBS, "cache_dir": str(work.dir / "ddp-cache"), **where}
    if error := run([*probe, str(sums), *work.new_run("ddp", **knobs)], work.log("ddp")):
        return check.say("ddp", "FAIL", error)
    run_dir = the_run(work.dir / "runs" / "ddp")
    rows = metrics(run_dir)
    two = "x 2 processes" in (run_dir / "train.log").read_text()
    f1 = float(rows[0]["val_f1"])
    same = same_state(check, "ddp", checksums(sums), f"{how}, accumulate 3, EMA, clip, dropout")
    whole = two and math.isfinite(f1) and (run_dir / "averaged.csv").is_file()
    check.judge("ddp-run", whole, f"val_f1 {f1:.4f} after 1 epoch, averaged.csv "
                + ("written" if (run_dir / "averaged.csv").is_file() else "missing")
                + ("" if two else "; but train.log shows 1 process"))
    if not (same and whole):
        return
    sums.unlink()
    if error := run([*probe, str(sums), "--resume", str(run_dir), "--set", "epochs=2"], work.log("ddp-resume")):
        return check.say("ddp-resume", "FAIL", error)
    epochs = [r["epoch"] for r in metrics(run_dir)]
    same_state(check, "ddp-resume", checksums(sums) if epochs == ["1", "2"] else None,
               f"resumed by 2 processes, epochs {', '.join(epochs)} in metrics.csv")
    if work.cpu:  # tests/test_torchrun_paths.py runs it on the CPU
        return check.say("ddp-kfold", "SKIP", "(the CPU mode leaves the k-fold group to the test suite)")
    if error := run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py",
                     *work.new_run("ddp-kfold", kfold=True, folds=2, epochs=1, **where)], work.log("ddp-kfold")):
        return check.say("ddp-kfold", "FAIL", error)
    folders = sorted(p.name for p in (work.dir / "runs" / "ddp-kfold").iterdir())
    group = work.dir / "runs" / "ddp-kfold" / folders[0]
    check.judge("ddp-kfold", len(folders) == 1 and (group / "metrics.csv").is_file(),
                f"a 2-fold k-fold group: {len(folders)} folder(s), group metrics.csv "
                + ("written" if (group / "metrics.csv").is_file() else "missing"))
