"""`channels_last = "auto"`: the faster memory layout, timed on the real batch shape.

Neither layout wins everywhere: on 2 CPU cores a training step of resnet10t at 64x48 (batch 32)
runs faster contiguous (NCHW), one of mobilenetv3_small_100 at 112x112 (batch 64) nearly twice
as fast channels_last (NHWC); on tensor cores NHWC usually wins. So at start-up a copy of the
model takes a few training steps (forward and backward, under the run's autocast) in each
layout on a batch of the configured shape, and the faster is kept. The answer is cached per
backbone, image size, batch, device, precision and torch version in the cache folder
(`$MASK18_CACHE/memory_layouts.json`), so it is timed once per machine, not per run; `True` or
`False` forces a layout. Timing uses a deep copy of the model and its own random stream: the
run's weights, batch-norm statistics and random state are untouched.
"""
from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from base.atomic import write_text

WARMUP, TIMED = 2, 3  # training steps per layout: not timed, timed (the median counts)


def layout_key(cfg, device: torch.device, dtype: torch.dtype | None) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()}"
    return (f"{cfg.backbone} {cfg.image_size[0]}x{cfg.image_size[1]} batch {cfg.batch_size} | {name} | "
            f"{dtype or 'float32'} | torch {torch.__version__}")


def time_layouts(model: torch.nn.Module, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype | None,
                 timer: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Milliseconds per training step of a copy of `model` in each layout on a batch of `shape`."""
    result = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        trial = copy.deepcopy(model).train()
        images = torch.randn(shape).to(device)
        for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
            trial = trial.to(memory_format=fmt)
            batch = images.contiguous(memory_format=fmt)
            steps = []
            for _ in range(WARMUP + TIMED):
                started = timer()
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    outputs = trial(batch)
                    loss = sum(v.float().mean() for v in outputs.values())
                loss.backward()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                steps.append(timer() - started)
            result[name] = 1000 * statistics.median(steps[WARMUP:])
            trial.zero_grad(set_to_none=True)
    return result


def choose(cfg, model: torch.nn.Module, device: torch.device, dtype: torch.dtype | None, cache_file: Path,
           timer: Callable[[], float] = time.perf_counter) -> tuple[bool, str]:
    """(channels_last?, a log line saying why): forced by the knob, cached, or timed now."""
    if cfg.channels_last != "auto":
        return bool(cfg.channels_last), f"memory layout {'channels_last' if cfg.channels_last else 'contiguous'} " \
                                        "(channels_last knob)"
    key = layout_key(cfg, device, dtype)
    try:
        cache = json.loads(Path(cache_file).read_text())
    except (OSError, ValueError):
        cache = {}
    timed = cache.get(key)
    where = f"cached in {cache_file}"
    if not isinstance(timed, dict) or not {"contiguous", "channels_last"} <= set(timed):
        timed = time_layouts(model, (cfg.batch_size, 3, *cfg.image_size), device, dtype, timer)
        cache[key] = timed
        try:
            Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
            write_text(cache_file, json.dumps(cache, indent=1, sort_keys=True) + "\n")
            where = f"timed now, kept in {cache_file}"
        except OSError:
            where = "timed now (the cache folder is not writable)"
    last = timed["channels_last"] < timed["contiguous"]
    return last, (f"memory layout {'channels_last' if last else 'contiguous'} (auto: a training step "
                  f"{timed['channels_last']:.1f} ms channels_last, {timed['contiguous']:.1f} ms contiguous; {where})")
