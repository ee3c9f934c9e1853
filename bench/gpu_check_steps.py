"""One optimizer update, made twice from the same weights and batches, compared parameter by
parameter: the GPU's fp32 against the CPU's (`step`), and fp16 with its GradScaler against fp32
on the same device (`fp16-step`).

SGD, not Adam: SGD's update is lr x gradient, so it shows the gradients' difference. Adam's
first step is lr x sign(gradient), and AdamW's update does not change when the gradients stay
scaled, so a GradScaler that never unscales passes any Adam comparison.

The fp16 update is made the way training makes it (base/update.py's Updater): two batches
accumulated, the scaled gradients unscaled, the norm clipped, the step taken. The clip is set
to 4x the fp32 gradient norm: it never acts on gradients that were unscaled, and always acts on
gradients that were not (the scale starts at 2^16), so "unscale before clip" shows as well.
"""
from __future__ import annotations

import math

from gpu_check_kit import CUDA_ONLY, Check, Work

STEP_TOLERANCE = 1e-2  # |GPU - CPU update| / largest update: TF32 convolutions (cuDNN's default) err ~1e-3
FP16_TOLERANCE = 0.3  # |fp16 - fp32 update| / largest update: healthy ~0.04; unscaled or misclipped >= 1
ACCUMULATE = 2


def trainer_for(work: Work, **knobs):
    """A trainer of the check's model on the work folder's data (no run folder, no process group)."""
    from base import config as config_lib
    from trainer import get_trainer

    size = {"backbone": "test_resnet", "image_size": (32, 32), "batch_size": 16} if work.cpu else \
        {"backbone": "mobilenetv3_small_100", "image_size": (112, 112), "batch_size": 32}
    cfg = config_lib.load(overrides=[f"{k}={v!r}" for k, v in {
        "data_dir": str(work.data()), **size, "amp": "off", "channels_last": False, "cudnn_benchmark": False,
        "optimizer": "sgd", "drop_rate": 0.0, "num_workers": 0, "plots": False, "device": "cpu", **knobs}.items()])
    return get_trainer(cfg.trainer)(cfg)


def batches(trainer, count: int) -> list:
    loader = trainer.loader(trainer.split_tables()[0].head(count * trainer.cfg.batch_size), train=True)
    loader.set_epoch(1)
    return [batch for _, batch in zip(range(count), loader, strict=False)]


def update(trainer, data: list, fp16_on_cpu: bool = False, scale: float | None = None) -> float:
    """One optimizer update of `trainer` over `data`'s batches, as train_epoch makes it; the loss.
    `fp16_on_cpu`: the amp knob refuses fp16 off CUDA, so the CPU mode puts fp16 autocast and a
    CPU GradScaler into the Updater by hand; scale, unscale, clip and step stay the Updater's.
    `scale`: the GradScaler's loss scale to start from (an earlier try overflowed)."""
    import torch

    from model.heads import head_targets

    trainer.steps_per_epoch = len(data)
    trainer.build_updater()
    updater = trainer.updater
    if fp16_on_cpu:
        updater.dtype, updater.scaler = torch.float16, torch.amp.GradScaler("cpu")
    if scale is not None:
        updater.scaler.load_state_dict({**updater.scaler.state_dict(), "scale": scale})
    trainer.train_model.train()
    total = 0.0
    for step, (images, targets) in enumerate(data):
        with updater.autocast():
            loss = trainer.loss(trainer.train_model(trainer.to_device(images)),
                                head_targets(targets.to(trainer.device), trainer.specs))
        updater.backward(loss, step)
        total += loss.item() / len(data)
    return total


def compare(before: dict, reference: dict, other: dict) -> tuple[float, float]:
    """(max |other - reference| over every parameter, the largest update of the reference)."""
    diff = max((other[k].detach().cpu().double() - reference[k].detach().cpu().double()).abs().max().item()
               for k in before)
    largest = max((reference[k].detach().cpu().double() - before[k].double()).abs().max().item() for k in before)
    return diff, largest


def step(work: Work, check: Check) -> None:
    """One fp32 SGD step on the GPU and on the CPU, from the same weights and batch."""
    if work.cpu:
        return check.say("step", CUDA_ONLY, "one fp32 training step, GPU against CPU")
    cpu, gpu = trainer_for(work), trainer_for(work, device="cuda")
    gpu.model.load_state_dict(cpu.model.state_dict())
    before = {k: v.detach().clone() for k, v in cpu.model.named_parameters()}
    data = batches(cpu, 1)
    losses = {"cpu": update(cpu, data), "gpu": update(gpu, data)}
    diff, largest = compare(before, dict(cpu.model.named_parameters()), dict(gpu.model.named_parameters()))
    cfg = cpu.cfg
    check.judge("step", diff <= STEP_TOLERANCE * largest,
                f"max |param GPU - CPU| {diff:.2e} after one SGD step whose largest update is {largest:.2e} "
                f"(tolerance {STEP_TOLERANCE:g} x it); loss GPU {losses['gpu']:.6f} CPU {losses['cpu']:.6f} "
                f"({cfg.backbone}, {cfg.image_size[0]}x{cfg.image_size[1]}, batch {cfg.batch_size})")


def fp16_step(work: Work, check: Check) -> None:
    """One fp16 update (GradScaler, accumulation over two batches, clipping) against the fp32 one."""
    device = "cpu" if work.cpu else "cuda"
    reference = trainer_for(work, device=device)
    start = {k: v.detach().clone() for k, v in reference.model.state_dict().items()}
    before = {k: v.detach().cpu().clone() for k, v in reference.model.named_parameters()}
    data = batches(reference, ACCUMULATE)
    norm = gradient_norm(reference, data)
    knobs = {"device": device, "accumulate_steps": ACCUMULATE, "clip_grad_norm": 4 * norm}
    reference = trainer_for(work, **knobs)
    reference.model.load_state_dict(start)
    fp32_loss = update(reference, data)
    half = trainer_for(work, **knobs, amp="off" if work.cpu else "fp16")
    scale, tries = 2.0**16, 0
    while tries < 8:  # training's own way past an overflow: the scale halves, the step is skipped
        half.model.load_state_dict(start)
        fp16_loss = update(half, data, fp16_on_cpu=work.cpu, scale=scale)
        scaler, tries = half.updater.scaler, tries + 1
        if not scaler.is_enabled() or scaler.get_scale() >= scale:
            break
        scale = scaler.get_scale()
    skipped = not scaler.is_enabled() or scaler.get_scale() < scale
    diff, largest = compare(before, dict(reference.model.named_parameters()), dict(half.model.named_parameters()))
    check.judge("fp16-step", not skipped and diff <= FP16_TOLERANCE * largest and math.isfinite(fp16_loss),
                f"max |param fp16 - fp32| {diff:.2e} after one update whose largest is {largest:.2e} "
                f"(tolerance {FP16_TOLERANCE:g} x it); {ACCUMULATE} batches accumulated, clip at 4 x the "
                f"gradient norm {norm:.3g}, loss fp16 {fp16_loss:.5f} fp32 {fp32_loss:.5f}, loss scale {scale:g} "
                f"(try {tries})" + ("; the scaler skipped every step" if skipped else "")
                + (" (the CPU's fp16: the plumbing only)" if work.cpu else ""))


def gradient_norm(trainer, data: list) -> float:
    """The fp32 gradient norm of one update over `data` (nothing stepped)."""
    import torch

    from model.heads import head_targets

    trainer.model.train()
    for images, targets in data:
        loss = trainer.loss(trainer.model(trainer.to_device(images)),
                            head_targets(targets.to(trainer.device), trainer.specs))
        (loss / len(data)).backward()
    norm = torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), math.inf)  # the norm, nothing clipped
    trainer.model.zero_grad(set_to_none=True)
    return norm.item()
