#!/usr/bin/env bash
# GPU check (never in CI): on one GPU, without network, in under 8 minutes: every section runs
# under its own time limit, all of them within BUDGET seconds (default 460), and prints its
# verdicts as soon as they are known, one line each: <check> PASS|FAIL|SKIP <numbers, and the
# bar they are held to> [seconds since the section started].
#   data       the demo sets the others train on, made once (400+100 persons at 128x96; 200+100 at 384x288)
#   step       one fp32 training step (SGD) on the GPU and on the CPU from the same weights and batch:
#              max parameter difference within 1e-2 x the largest update
#   precision  one fp16 update (GradScaler, 2 batches accumulated, clipping) against the fp32 one from
#              the same weights and batches, SGD: max difference within 0.3 x the largest update (a
#              scaler that never unscales is off by 2x or more); bf16 and fp16 (clipping, accumulating)
#              runs of the quickstart recipe reach validation F1 0.90
#   resume     kill -9 inside epoch 2 (checkpoint_every_steps), train.py --resume: metrics.csv and
#              the final weights equal an uninterrupted run's (dropout on, cudnn_benchmark=False)
#   inference  precision's bf16 run (or a short one it trains) predicted on the CPU (inference.py
#              --device cpu) and on the GPU: the same answers for 98% of the pictures or more; images/s
#   syncs      host syncs inside the training step (the every-SYNC_EVERY-steps flush excluded): 0
#   ddp        2 processes under torchrun, fp16, channels_last, accumulating 3 batches, EMA, clipping,
#              dropout: NCCL on two GPUs, gloo sharing the GPU on one (ddp_backend="gloo"); every
#              rank's parameters, validated weights, optimizer state and loss scale hashed and equal
#              (bench/ddp_checksums.py); resumed by 2 processes, equal again; a 1-epoch 2-fold k-fold
#              group that must make one folder
#   speed-112  bench/speed.py, mobilenetv3_small_100 at 112x112 (protocol P) and, in speed-384,
#   speed-384  efficientnet_b0 at 384x288 (the competition's size): training images/s against pure
#              compute, bf16, layout auto, compile off and on, peak GPU memory; at 384x288 also
#              inference.py's images/s
# After each section a line gives its seconds against its limit; the last line all of them.
#
#   bash bench/gpu_check.sh                  # every section; FAIL (exit 1) when torch sees no CUDA device
#   bash bench/gpu_check.sh --cpu            # the CPU mode: tiny sizes on the CPU, to test the plumbing;
#                                            # what needs CUDA says SKIP (needs CUDA)
#   bash bench/gpu_check.sh resume speed-384 # these sections only (data is made when missing)
# Outside --cpu a SKIP counts as a failure. A section stopped at its limit ends its whole process
# tree (torchrun's workers, in sessions of their own, included).
# Offline: a package of pyproject.toml's dependencies that fails to import, or whose version is
# outside pyproject.toml's range, is installed from the wheels in WHEELS (default bench/wheels:
# `bash bench/gpu_wheels.sh bench/wheels` where pip reaches an index, then bring the folder along),
# with pip's index and configuration off; where pip cannot resolve against the image's packages,
# only the wheels of those packages go in. PYTHON (default python3) runs everything; KEEP=DIR
# keeps the sections' folder (data, runs, logs) in DIR, otherwise a temporary one is removed.
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
sections=(data step precision resume inference syncs ddp speed-112 speed-384)
declare -A limit=([data]=60 [step]=60 [precision]=120 [resume]=120 [inference]=60 [syncs]=60 [ddp]=180
                  [speed-112]=150 [speed-384]=210)
# Plain bash lookups: a `printf | grep -q` pipeline under pipefail fails now and then on a busy
# machine (grep exits at its match, printf dies of SIGPIPE), and a requested section went missing.
declare -A wanted=()
mode=()
for arg in "$@"; do
    case "$arg" in
        --cpu) mode=(--cpu) ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
        *) if [[ "$arg" =~ ^[a-z0-9-]+$ && -v "limit[$arg]" ]]; then wanted[$arg]=1
           else echo "gpu_check.sh: unknown section or option '$arg'; sections: ${sections[*]}; option: --cpu" >&2
                exit 2; fi ;;
    esac
done
[[ "$budget" =~ ^[0-9]+$ ]] || { echo "gpu_check.sh: BUDGET=$budget: give whole seconds" >&2; exit 2; }
# albumentations asks PyPI for a newer version at every import unless told not to
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 PYTHONUNBUFFERED=1

# pyproject.toml's dependencies that fail to import or are out of range, or the machine's report
# (bench/gpu_check_setup.py).
probe() { "$py" bench/gpu_check_setup.py pyproject.toml; }
name_of() { local n="${1%%[<>=!~;\[ ]*}"; n="${n//[_.]/-}"; echo "${n,,}"; }

report="$(probe)" || { echo "setup      FAIL the import check itself failed (PYTHON=$py)"; exit 1; }
if [[ "$report" == need* ]]; then
    reqs="${report#need }" why="${report#* -- }"
    read -ra need <<< "${reqs%% -- *}"
    declare -A needed=()
    for req in "${need[@]}"; do needed[$(name_of "$req")]=1; done
    if [[ -v "needed[torch]" || -v "needed[torchvision]" ]]; then
        echo "setup      FAIL $why: install the torch and torchvision build that matches this machine's driver first"
        exit 1
    fi
    [ -d "$wheels" ] || { echo "setup      FAIL $why, and no wheels folder $wheels (make it with" \
        "bash bench/gpu_wheels.sh $wheels where pip reaches an index, and bring it along, or set WHEELS)"; exit 1; }
    echo "setup      installing ${need[*]} from $wheels (no index): $why"
    offline=(env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null
             "$py" -m pip install --quiet --no-index --no-cache-dir)
    # Where pip cannot resolve against the image's own packages (opencv-python in place of
    # opencv-python-headless, say), the needed packages go in without their dependencies, and
    # only they: the image's own builds of everything else stay.
    "${offline[@]}" --find-links "$wheels" "${need[@]}" 2>/dev/null \
        || "${offline[@]}" --no-deps --find-links "$wheels" "${need[@]}" \
        || { echo "setup      FAIL pip could not install ${need[*]} from $wheels"; exit 1; }
    report="$(probe)"
    [[ "$report" != need* ]] || { echo "setup      FAIL still: ${report#* -- }"; exit 1; }
fi
if [[ "$report" != cuda* && ${#mode[@]} -eq 0 ]]; then
    echo "setup      FAIL torch sees no CUDA device: ${report#* } (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset});" \
         "a GPU machine needs a working driver and a CUDA build of torch; --cpu checks the plumbing alone"
    exit 1
fi
echo "setup      PASS ${report#* }${mode:+; the CPU mode: tiny sizes, what needs CUDA says SKIP}"

work="${keep:-$(mktemp -d)}"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
export MASK18_CACHE="$work/cache"  # decoded pictures and the layout timings, not the user's cache
started=$SECONDS failed=0 times=()
for section in "${sections[@]}"; do
    if [ ${#wanted[@]} -gt 0 ] && [[ ! -v "wanted[$section]" && "$section" != data ]]; then continue; fi
    left=$((budget - (SECONDS - started))) cap=${limit[$section]}
    [ "$left" -lt "$cap" ] && cap=$left
    if [ "$cap" -lt 5 ]; then
        echo "$(printf '%-10s' "$section") FAIL not started: the ${budget} s budget is spent"; failed=1; continue
    fi
    begun=$SECONDS
    timeout -k 15 "$cap" "$py" bench/gpu_check.py "$section" --work "$work" "${mode[@]}"
    code=$?
    if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
        echo "$(printf '%-10s' "$section") FAIL stopped at its ${cap} s limit (logs: KEEP=DIR keeps them)"
    fi
    [ "$code" -eq 0 ] || failed=1
    times+=("$section $((SECONDS - begun))/${limit[$section]}")
    echo "$(printf '%-10s' "$section") took $((SECONDS - begun)) s of its ${limit[$section]} s limit"
done
printf -v spent '%s, ' "${times[@]}"
echo "done       $((SECONDS - started)) s (seconds/limit: ${spent%, }), $([ "$failed" -eq 0 ] && echo "nothing failed" \
    || echo "FAILED")"
exit "$failed"
