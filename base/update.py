"""From losses to optimizer updates: mixed precision, accumulation, clipping, schedule, EMA.

- AMP: autocast in bf16 or fp16 on CUDA (a GradScaler for fp16 only), bf16 on CPU as an option.
- Accumulation: `accumulate_steps` batches make one update; each loss is divided by the size of
  its group, so a short last group of an epoch is averaged correctly too, and under DDP the
  batches before an update skip the gradient all-reduce (`no_sync`).
- Clipping of the gradient norm (after unscaling), the schedule's per-update tick, and the EMA
  of the weights (timm's ModelEmaV3, with its decay warm-up counted by the EMA itself so that
  a resumed run continues it) follow every update. An update whose fp16 gradients overflowed
  is skipped by GradScaler; then the schedule and the EMA skip it too, so neither counts a
  step that did not happen.

`build_updater` makes all of it for a model, with the model as training calls it: DDP-wrapped
under torchrun, compiled when `compile` is on.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
from timm.utils import ModelEmaV3
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from base.distributed import World
from base.errors import UserError
from base.monitor import Monitor
from base.optim import Schedule, build_optimizer


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype the `amp` knob means on this device (None: full precision)."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "fp16" and device.type != "cuda":
        raise UserError("config knob 'amp': fp16 needs a CUDA device; use bf16 on CPU, or amp=off")
    if amp == "fp16" or (amp == "auto" and not native_bf16()):  # auto off CUDA returned above
        return torch.float16
    return torch.bfloat16


def native_bf16() -> bool:
    """Whether the CUDA device computes bf16 in hardware (Ampere and later). torch's plain
    is_bf16_supported() also says yes where bf16 is only emulated (V100, T4), several times
    slower than fp16 with a GradScaler there."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.4 counted no emulation
        return torch.cuda.is_bf16_supported()


class WarmupEma(ModelEmaV3):
    """timm's EMA, counting its own updates (a buffer, so checkpoints carry it) to feed its
    warm-up: decay 1 - (1 + t)^(-2/3), capped at `decay`. Without it a 0.999 EMA of a run of a
    few thousand updates still holds a tenth of the random initial weights."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool):
        super().__init__(model, decay=decay, use_warmup=warmup)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.count = 0  # the host's copy: reading the buffer at every update would make the host wait

    def update(self, model: nn.Module, step: int | None = None) -> None:
        self.count += 1
        self.updates.fill_(self.count)
        super().update(model, step=self.count if self.use_warmup else None)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.count = int(self.updates)  # once, on resume
        return result


class Updater:
    def __init__(self, model: nn.Module, train_model: nn.Module, optimizer: torch.optim.Optimizer,
                 schedule: Schedule, cfg, device: torch.device, steps_per_epoch: int):
        self.model, self.train_model, self.optimizer, self.schedule = model, train_model, optimizer, schedule
        self.cfg, self.device, self.steps_per_epoch = cfg, device, steps_per_epoch
        self.dtype = amp_dtype(cfg.amp, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.dtype == torch.float16)
        self.ema = WarmupEma(model, cfg.ema_decay, cfg.ema_warmup) if cfg.ema else None

    def resumable(self) -> dict:
        """The parts a checkpoint must hold to continue exactly."""
        parts = {"optimizer": self.optimizer, "scheduler": self.schedule}
        if self.scaler.is_enabled():
            parts["scaler"] = self.scaler
        if self.ema is not None:
            parts["ema"] = self.ema
        return parts

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)

    def _group(self, step: int) -> tuple[int, bool]:
        """(batches in the accumulation group of `step`, whether `step` ends it)."""
        k = self.cfg.accumulate_steps
        first = step - step % k
        size = min(k, self.steps_per_epoch - first)
        return size, step == first + size - 1

    def sync(self, step: int):
        """Context for the forward and backward of batch `step`: DDP skips the all-reduce
        on batches that do not end an update."""
        _, last = self._group(step)
        if last or not hasattr(self.train_model, "no_sync"):
            return nullcontext()
        return self.train_model.no_sync()

    def backward(self, loss: torch.Tensor, step: int) -> int:
        """Accumulate the gradient of batch `step`; update when it ends its group. Returns the
        number of batches in the update it made (0: no update yet)."""
        size, last = self._group(step)
        self.scaler.scale(loss / size).backward()
        if not last:
            return 0
        if self.cfg.clip_grad_norm:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad_norm)
        self.scaler.step(self.optimizer)
        stepped = self._update_scale()
        self.optimizer.zero_grad(set_to_none=True)
        if stepped:  # the schedule and the EMA follow the optimizer steps that happened
            self.schedule.update()
            if self.ema is not None:
                self.ema.update(self.model)
        return size

    def _update_scale(self) -> bool:
        """Move the fp16 loss scale; False when GradScaler skipped the optimizer step for inf/nan
        gradients. Without a scaler nothing is read from the device; with one, one value per
        update: the inf/nan flag scaler.step() leaves on the device (one per device holding
        gradients: one here), taken before update() drops it and read once update() is queued.

        What torch reads itself: with a fused optimizer (base/optim.py's choice where a kernel
        exists) scaler.step() reads nothing, the kernel gets the flag and skips on the device, so
        this is the update's only read; with a plain optimizer step() reads the flag (.item()) to
        decide whether to call optimizer.step() and keeps no host copy, so this is a second one.
        One is the least while the schedule's tick and the EMA update are decided on the host;
        none would need them decided on the device, or late, at the next flush. (Reading the
        scale before and after update() with get_scale() took two reads.)"""
        if not self.scaler.is_enabled():
            return True
        found = self.scaler._found_inf_per_device(self.optimizer)  # torch has no public accessor
        flags = list(found.values())
        self.scaler.update()  # queued before the host waits below
        return not any(flag.item() for flag in flags)

    @property
    def eval_model(self) -> nn.Module:
        """The weights to validate and to keep as best: the EMA's when it is on."""
        return self.ema.module if self.ema is not None else self.model


def build_updater(model: nn.Module, cfg, device: torch.device, world: World, steps_per_epoch: int,
                  monitor: Monitor, optimizer: torch.optim.Optimizer | None = None) -> Updater:
    """Optimizer (`optimizer`, else the configured one), schedule (counted in updates of
    `accumulate_steps` batches; "plateau" asks `monitor` what is better), AMP and EMA of `model`;
    the Updater's train_model is `model` DDP-wrapped under torchrun and compiled when `compile` is on."""
    train_model = model
    if world.enabled:
        ids = [device.index] if device.type == "cuda" else None
        train_model = DistributedDataParallel(model, device_ids=ids)
    if cfg.compile:
        train_model = torch.compile(train_model)
    optimizer = optimizer or build_optimizer(model, cfg)
    schedule = Schedule(optimizer, cfg, -(-steps_per_epoch // cfg.accumulate_steps), monitor)
    return Updater(model, train_model, optimizer, schedule, cfg, device, steps_per_epoch)
