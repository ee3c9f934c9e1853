#!/usr/bin/env bash
# GPU check (never in CI): on one GPU, without network, in under 8 minutes: every section runs
# under its own time limit, all of them within BUDGET seconds (default 460), and prints its
# verdicts as soon as they are known, one line each: <check> PASS|FAIL|SKIP <numbers, and the
# bar they are held to> [seconds since the section started].
#   data       the demo sets the others train on, made once (400+100 persons at 128x96; 200+100 at 384x288)
#   step       one fp32 training step (SGD) on the GPU and on the CPU from the same weights and batch:
#              max parameter difference within 1e-2 x the largest update
#   precision  bf16 and forced-fp16 runs of the quickstart recipe reach validation F1 0.90
#   resume     kill -9 inside epoch 2 (checkpoint_every_steps), train.py --resume: metrics.csv and
#              the final weights equal an uninterrupted run's (cudnn_benchmark=False)
#   inference  precision's bf16 run predicted on the CPU (inference.py --device cpu) and on the GPU: the same
#              answers for 98% of the pictures or more; images/s
#   syncs      host syncs inside the training step (the every-SYNC_EVERY-steps flush excluded): 0
#   ddp        2 processes under torchrun: NCCL on two GPUs; on one GPU the DDP path on gloo and
#              the CPU, as NCCL refuses two processes on one GPU: a run with a disk cache and a
#              weight average, its resume, and a 2-fold k-fold group that must make one folder
#   speed-112  bench/speed.py, mobilenetv3_small_100 at 112x112 (protocol P) and, in speed-384,
#   speed-384  efficientnet_b0 at 384x288 (the competition's size): training images/s against pure
#              compute, bf16, layout auto, compile off and on, peak GPU memory; at 384x288 also
#              inference.py's images/s
#
#   bash bench/gpu_check.sh                  # every section; the CPU mode when no CUDA GPU is visible
#   bash bench/gpu_check.sh --cpu            # the CPU mode: tiny sizes on the CPU, to test the plumbing;
#                                            # what needs CUDA says SKIP (needs CUDA)
#   bash bench/gpu_check.sh resume speed-384 # these sections only (data is made when missing)
# Offline: a package of pyproject.toml's dependencies that fails to import is installed from the
# wheels in WHEELS (default bench/wheels: `bash bench/gpu_wheels.sh bench/wheels` where pip
# reaches an index, then bring the folder along), with pip's index and configuration off. PYTHON (default python3) runs everything; KEEP=DIR keeps
# the sections' folder (data, runs, logs) in DIR, otherwise a temporary one is removed at the end.
# Exit code: 0 when nothing failed, 1 when a check failed, 2 on bad arguments.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python3}"
wheels="${WHEELS:-$root/bench/wheels}"
keep="${KEEP:-}"
[[ "$wheels" == /* ]] || wheels="$PWD/$wheels"  # as given, from where the check was started
[[ -z "$keep" || "$keep" == /* ]] || keep="$PWD/$keep"
cd "$root"
budget="${BUDGET:-460}"
# Each section's own limit, in seconds, about twice what it should need; their sum is above the
# budget on purpose: a section that runs long takes from the later ones (the speed sections come
# last, after every correctness check), and the budget keeps the whole under 8 minutes.
limits=(data:60 step:60 precision:120 resume:120 inference:60 syncs:60 ddp:150 speed-112:150 speed-384:210)
mode=() wanted=()
for arg in "$@"; do
    case "$arg" in
        --cpu) mode=(--cpu) ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
        *) if printf '%s\n' "${limits[@]%%:*}" | grep -qx -- "$arg"; then wanted+=("$arg")
           else echo "gpu_check.sh: unknown section or option '$arg'; sections: ${limits[*]%%:*}; option: --cpu" >&2
                exit 2; fi ;;
    esac
done
[[ "$budget" =~ ^[0-9]+$ ]] || { echo "gpu_check.sh: BUDGET=$budget: give whole seconds" >&2; exit 2; }
# albumentations asks PyPI for a newer version at every import unless told not to
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 PYTHONUNBUFFERED=1

# What fails to import, as pip names it: pyproject.toml's dependencies, read from the file so
# the list never drifts; then one line of versions and whether CUDA is there.
probe() {
    "$py" - "$root/pyproject.toml" <<'PY'
import importlib, re, sys
try:
    import tomllib
except ImportError:  # Python 3.10: pip carries a copy
    from pip._vendor import tomli as tomllib
MODULES = {"opencv-python-headless": "cv2", "pillow": "PIL", "scikit-learn": "sklearn"}  # where names differ
deps = [re.match(r"[A-Za-z0-9._-]+", d)[0] for d in tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]]
missing = []
for dist in deps:
    try:
        importlib.import_module(MODULES.get(dist.lower(), dist.lower().replace("-", "_")))
    except Exception:  # an ImportError, or a dependency of it that broke on import
        missing.append(dist)
if missing:
    print("missing", *missing)
else:
    import torch
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    print("cuda" if gpu else "nocuda", f"python {sys.version.split()[0]}, torch {torch.__version__}",
          f"({torch.version.cuda and 'CUDA ' + torch.version.cuda or 'no CUDA build'}),",
          f"{torch.cuda.device_count()} GPU(s)" + (f" {gpu}, bf16 {torch.cuda.is_bf16_supported()}" if gpu else ""))
PY
}

report="$(probe)" || { echo "setup      FAIL the import check itself failed (PYTHON=$py)"; exit 1; }
if [[ "$report" == missing* ]]; then
    missing=(${report#missing })
    if [[ " ${missing[*]} " == *" torch "* || " ${missing[*]} " == *" torchvision "* ]]; then
        echo "setup      FAIL torch or torchvision missing: install the build that matches this machine's driver first"
        exit 1
    fi
    [ -d "$wheels" ] || { echo "setup      FAIL cannot import ${missing[*]} and no wheels folder $wheels (make it" \
        "with bash bench/gpu_wheels.sh $wheels where pip reaches an index, and bring it along, or set WHEELS)"; exit 1; }
    echo "setup      installing ${missing[*]} from $wheels (no index)"
    offline=(env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null
             "$py" -m pip install --quiet --no-index --no-cache-dir)
    # Where the image's own packages do not meet a requirement as pip names it (opencv-python in
    # place of opencv-python-headless, say), the folder's wheels go in as they are, unresolved.
    "${offline[@]}" --find-links "$wheels" "${missing[@]}" 2>/dev/null \
        || "${offline[@]}" --no-deps "$wheels"/*.whl \
        || { echo "setup      FAIL pip could not install ${missing[*]} from $wheels"; exit 1; }
    report="$(probe)"
    [[ "$report" != missing* ]] || { echo "setup      FAIL still cannot import ${report#missing }"; exit 1; }
fi
[[ "$report" == cuda* ]] || mode=(--cpu)
echo "setup      PASS ${report#* }${mode:+; the CPU mode: tiny sizes, what needs CUDA says SKIP}"

work="${keep:-$(mktemp -d)}"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
export MASK18_CACHE="$work/cache"  # decoded pictures and the layout timings, not the user's cache
started=$SECONDS failed=0
for entry in "${limits[@]}"; do
    section="${entry%%:*}" limit="${entry#*:}"
    if [ ${#wanted[@]} -gt 0 ] && ! printf '%s\n' "${wanted[@]}" data | grep -qx -- "$section"; then continue; fi
    left=$((budget - (SECONDS - started)))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -lt 5 ]; then
        echo "$(printf '%-10s' "$section") FAIL not started: the ${budget} s budget is spent"; failed=1; continue
    fi
    timeout -k 10 "$limit" "$py" bench/gpu_check.py "$section" --work "$work" "${mode[@]}"
    code=$?
    if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
        echo "$(printf '%-10s' "$section") FAIL stopped at its ${limit} s limit (logs: KEEP=DIR keeps them)"
    fi
    [ "$code" -eq 0 ] || failed=1
done
echo "done       $((SECONDS - started)) s, $([ "$failed" -eq 0 ] && echo "nothing failed" || echo "FAILED")"
exit "$failed"
