#!/usr/bin/env bash
# GPU check (never in CI; well under 10 minutes on one GPU): on a CUDA machine, one run answers
#   1. training images/s against pure compute, amp auto (bf16 on Ampere and later, fp16 + scaler
#      on V100/T4), channels_last auto, compile off and on (bench/speed.py);
#   2. inference images/s (inference.py on a one-epoch run);
#   3. a 2-process DDP run (two GPUs when present; on one GPU the DDP path on gloo/CPU instead,
#      as NCCL refuses two processes on one GPU);
#   4. host syncs inside the training step: torch.cuda.set_sync_debug_mode("warn") around
#      train_epoch, the every-SYNC_EVERY-steps flush excluded, must count 0.
#   bash bench/gpu_check.sh                     # mobilenetv3_small_100 at 112x112 (protocol P), batch 64
#   BACKBONE=efficientnet_b0 SIZE=384,288 BATCH=64 bash bench/gpu_check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python -c "import torch, sys; torch.cuda.is_available() or sys.exit('no CUDA GPU visible'); \
print('gpu:', torch.cuda.get_device_name(), '| capability', torch.cuda.get_device_capability(), \
'| bf16', torch.cuda.is_bf16_supported(), '| gpus', torch.cuda.device_count(), '| torch', torch.__version__)"
model=(--set "backbone=${BACKBONE:-mobilenetv3_small_100}" --set "image_size=${SIZE:-112,112}"
       --set "batch_size=${BATCH:-64}")
demo=(--set demo_image_size=512,384 --set demo_persons=1000 --set demo_eval_persons=200)
knobs=(--set device=cuda --set amp=auto --set channels_last=auto --set num_workers=-1 "${model[@]}" "${demo[@]}")

echo "== 1. training: pure compute, mask18's epoch, the plain loop; compile off and on"
timeout 300 python bench/speed.py "${knobs[@]}" --compile || echo "speed bench stopped (exit $?)"

runs="$(mktemp -d)"
trap 'rm -rf "$runs"' EXIT
echo "== 2. inference images/s"
python train.py "${knobs[@]}" --set epochs=1 --set "runs_dir='$runs/one'" --set plots=False 2>&1 \
    | grep -E "^(run|memory layout|epoch|best)"
python inference.py --run "$(ls -d "$runs"/one/*/ | head -1)" --out "$runs/submission.csv" --batch-size 256 2>&1 \
    | grep -E "^wrote"

echo "== 3. DDP, 2 processes"
if [ "$(python -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then ddp=(--set device=cuda)
else ddp=(--set device=cpu --set amp=off); echo "one GPU: the DDP path on gloo/CPU"; fi
timeout 240 torchrun --standalone --nproc_per_node=2 train.py "${model[@]}" "${demo[@]}" "${ddp[@]}" \
    --set epochs=1 --set "runs_dir='$runs/ddp'" --set plots=False 2>&1 | grep -E "^(run|epoch|best)" \
    || echo "DDP run stopped (exit $?)"

echo "== 4. host syncs inside the training step"
python - "${knobs[@]}" <<'PY'
import sys, warnings
import torch
from base import config as config_lib
from base.epoch_progress import EpochProgress
from trainer import get_trainer
sets = [a for a in sys.argv[1:] if a != "--set"]
cfg = config_lib.load(overrides=sets)
trainer = get_trainer(cfg.trainer)(cfg)
table = trainer.split_tables()[0].head(cfg.batch_size * 40)
loader = trainer.loader(table, train=True)
trainer.steps_per_epoch = len(loader)
trainer.build_updater()
loader.set_epoch(1)
flush = EpochProgress.flush
def quiet_flush(self):  # the flush is where the host is meant to wait
    torch.cuda.set_sync_debug_mode(0)
    try:
        flush(self)
    finally:
        torch.cuda.set_sync_debug_mode("warn")
EpochProgress.flush = quiet_flush
trainer.train_epoch(loader, EpochProgress(1, lr=0.0))  # warm-up: cuDNN autotuning, allocator
loader.set_epoch(2)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    torch.cuda.set_sync_debug_mode("warn")
    trainer.train_epoch(loader, EpochProgress(2, lr=0.0))
    torch.cuda.set_sync_debug_mode(0)
syncs = [w for w in caught if "synchroniz" in str(w.message)]
print(f"host syncs inside {len(loader)} training steps (flushes excluded): {len(syncs)}")
for w in syncs[:5]:
    print(f"  {w.filename}:{w.lineno}: {str(w.message).splitlines()[0]}")
PY
