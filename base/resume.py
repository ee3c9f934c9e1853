"""What `train.py` trains: the configuration and the run folder it continues (None = a new run).

    resolve(experiment, overrides, resume, force, join)

Under torchrun the processes join their group first and rank 0 decides for all of them: it finds
the run (`--resume auto` is the newest run in its runs_dir), reads its config.json and checks the
knobs, and hands the result to the others, so machines whose runs folders differ cannot resume
different runs or train with different knobs. What rank 0 cannot hand over, the run folder's
checkpoint, must be the same file on every machine (base/distributed.py, same_everywhere).
"""
from __future__ import annotations

import os
from pathlib import Path

from base import config as config_lib
from base.errors import UserError

# Knobs a resumed run may change: they do not alter what the finished epochs mean.
RESUMABLE = {"epochs", "time_limit_minutes", "patience", "min_delta", "num_workers", "device",
             "inference_batch_size", "checkpoint", "name", "kfold_folds", "tta", "tta_args", "decision_offsets",
             "person_vote", "person_vote_size",
             "person_vote_guard", "checkpoint_every_steps",
             "keep_last", "persistent_workers", "prefetch_factor", "cache", "cache_memory_gb", "cache_dir", "plots",
             "gallery_size", "tensorboard", "wandb", "wandb_project", "wandb_mode", "cudnn_benchmark",
             "ddp_backend",
             "callbacks",  # a watcher added or dropped; a stop a callback made stays in last.pt
             "custom_imports"}  # where registered code comes from; the knobs naming it are checked


def resolve(experiment: str | None, overrides: list[str], resume: str | None, force: bool,
            join: bool = True) -> tuple[config_lib.Config, Path | None]:
    """The configuration to train with and the run folder to continue; with `join`, under torchrun,
    rank 0's answer on every process (joined here)."""
    now = config_lib.load(experiment, overrides)
    if join and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return _agreed(now, experiment, overrides, resume, force)
    run = _run_folder(now, resume) if resume else None
    return (_saved_config(run, experiment, overrides, force) if run else now), run


def _agreed(now: config_lib.Config, experiment: str | None, overrides: list[str], resume: str | None,
            force: bool) -> tuple[config_lib.Config, Path | None]:
    """resolve() as rank 0 answers it, on every process. Each joins with the `device` and
    `ddp_backend` of the run's config on its machine (_local_guess; the command's for a new run);
    a resumed run that trains on another kind of device is refused here rather than failing
    inside DDP."""
    from base import distributed  # torch: after the command line is understood
    from base.device import select_device
    from base.group_file import GROUP_FILE

    joined = _local_guess(now, experiment, overrides, resume)
    device, world = distributed.join(joined.device, joined.ddp_backend)
    if not resume:
        return distributed.on_rank_0(lambda: now, world), None
    run = distributed.on_rank_0(lambda: _run_folder(now, resume), world)
    for name in ("config.json", "last.pt", GROUP_FILE):
        distributed.same_everywhere(run / name, world)
    cfg = distributed.on_rank_0(lambda: _saved_config(run, experiment, overrides, force), world)
    if cfg.device != joined.device and select_device(cfg.device).type != device.type:
        raise UserError(f"--resume {run}: the run trains on device {cfg.device!r}, but this command's config "
                        f"(device {joined.device!r}) joined torchrun on {device.type}; add --set device={cfg.device!r}")
    return cfg, run


def _local_guess(now: config_lib.Config, experiment: str | None, overrides: list[str],
                 resume: str | None) -> config_lib.Config:
    """What this process joins with (`device`, `ddp_backend`) before rank 0 can tell it anything:
    on resume the run's own knobs from this machine's copy, with this command's changes, so a run
    started with ddp_backend='gloo' resumes on it without repeating it; else the command's."""
    if resume:
        try:
            run = _run_folder(now, resume)
            saved = config_lib.from_dict(config_lib.read_saved(run / "config.json"), source=str(run))
            return config_lib.load(experiment, overrides, base=saved)
        except (OSError, ValueError, UserError):  # rank 0's answer, after joining, says what is wrong
            pass
    return now


def _run_folder(now: config_lib.Config, resume: str) -> Path:
    from base.run_dir import newest

    return newest(now.runs_dir, name=now.name) if resume == "auto" else Path(resume)


def _saved_config(run: Path, experiment: str | None, overrides: list[str], force: bool) -> config_lib.Config:
    """The run's saved configuration with what this command gives changed, the knobs checked."""
    from base.group_file import GROUP_FILE

    if not (run / "config.json").is_file():
        raise UserError(f"--resume {run}: no config.json there; pass a run folder made by train.py")
    if not (run / "last.pt").is_file() and not (run / GROUP_FILE).is_file():
        # Without it the run would start again from epoch 1 and overwrite the folder's best.pt.
        raise UserError(f"--resume {run}: no last.pt there, nothing to continue from; start a new run "
                        "(python train.py without --resume)")
    saved = config_lib.from_dict(config_lib.read_saved(run / "config.json"), source=str(run / "config.json"))
    requested = config_lib.load(experiment, overrides, base=saved)  # only what is given now changes
    risky = [k for k in saved.diff(requested) if k not in RESUMABLE]
    if risky and not force:
        raise UserError(f"--resume {run}: knobs differ from the saved run: {', '.join(risky)}; "
                        "drop them, or add --force to accept")
    return requested
