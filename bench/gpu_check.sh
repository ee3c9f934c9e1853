#!/usr/bin/env bash
# GPU check (never in CI): on a CUDA machine, training throughput with AMP + channels_last next
# to the pure-compute figure, then inference images/s, on competition-sized demo pictures.
#   bash bench/gpu_check.sh                     # efficientnet_b0 at 384x288, batch 64
#   BACKBONE=resnet34 SIZE=224,224 BATCH=128 bash bench/gpu_check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python -c "import torch, sys; torch.cuda.is_available() or sys.exit('no CUDA GPU visible'); \
print('gpu:', torch.cuda.get_device_name(), '| torch', torch.__version__)"
knobs=(--set device=cuda --set amp=auto --set channels_last=True --set "backbone=${BACKBONE:-efficientnet_b0}"
       --set "image_size=${SIZE:-384,288}" --set "batch_size=${BATCH:-64}" --set demo_image_size=512,384
       --set demo_persons=2000 --set demo_eval_persons=400 --set num_workers=-1)
python bench/input_pipeline.py "${knobs[@]}" --batches "${BATCHES:-200}"
runs="$(mktemp -d)"
trap 'rm -rf "$runs"' EXIT
python train.py "${knobs[@]}" --set epochs=1 --set "runs_dir='$runs'" --set plots=False 2>&1 | grep -E "^(run|epoch|best)"
python inference.py --run "$(ls -d "$runs"/*/ | head -1)" --out "$runs/submission.csv" --batch-size 256 2>&1 \
    | grep -E "^wrote"
