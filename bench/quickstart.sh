#!/usr/bin/env bash
# Times README's main job, `python train.py && python inference.py`, with the default config
# from a cold demo cache (the demo data is generated inside the timed part), in a scratch folder.
#   bash bench/quickstart.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export MASK18_CACHE="$scratch/cache"
cd "$scratch"
start=$(date +%s.%N)
python "$root/train.py" 2> >(grep -E "^(run|best)" >&2)
python "$root/inference.py"
end=$(date +%s.%N)
printf 'wall time: %.0f s on %s CPU core(s), torch %s\n' "$(echo "$end - $start" | bc)" "$(nproc)" \
    "$(python -c 'import torch; print(torch.__version__)')"
