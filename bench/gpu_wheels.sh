#!/usr/bin/env bash
# Wheels for bench/gpu_check.sh on a GPU machine without network: run this where pip reaches an
# index, bring DIR along (bench/wheels, the default WHEELS of gpu_check.sh, is git-ignored), and
# the check installs from it, offline, whatever fails to import there.
#   bash bench/gpu_wheels.sh bench/wheels            # what a GPU image lacks (the default; about 10 MiB)
#   bash bench/gpu_wheels.sh --all DIR               # all but torch and torchvision (about 170 MiB)
#   bash bench/gpu_wheels.sh --list [--all]          # the requirements it starts from; no network
#   PYTHON_VERSION=3.11 bash bench/gpu_wheels.sh DIR # for another CPython (default 3.12)
# The requirements are read from pyproject.toml, so they never drift: its dependencies, and its
# build requirements (so that `pip install --no-index --find-links DIR -e .` builds offline), less
# torch and torchvision: the GPU machine has them, built for its driver, and they weigh gigabytes.
# pip's resolver (a dry run) finds their dependencies for CPython PYTHON_VERSION on manylinux
# x86-64; the wheels are those reached from the requirements without passing through a package
# left out, each downloaded alone (--no-deps), binary only. No pytest: the check needs none.
# Left out by default, besides torch and torchvision: GPU_HAS, the large packages a PyTorch GPU
# image carries (numpy scipy pandas scikit-learn opencv-python-headless matplotlib pillow timm),
# and so what only they need; what remains is albumentations and its own dependencies, small
# enough to copy beside the source tree. GPU_HAS="..." names others; --all leaves out only torch
# and torchvision, for a machine with PyTorch alone (opencv, scipy, numpy, ... make it large).
# pip >= 22.2 (for --report). Exit code 2 on bad arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python3}"
version="${PYTHON_VERSION:-3.12}"
has="${GPU_HAS-numpy scipy pandas scikit-learn opencv-python-headless matplotlib pillow timm}"
dir="" list=0
usage="usage: bash bench/gpu_wheels.sh [--all] DIR | --list [--all] (see its header)"
for arg in "$@"; do
    case "$arg" in
        --all) has="" ;;
        --list) list=1 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d;s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gpu_wheels.sh: unknown option $arg; $usage" >&2; exit 2 ;;
        *) [ -z "$dir" ] || { echo "gpu_wheels.sh: one DIR only, got $dir and $arg; $usage" >&2; exit 2; }
           dir="$arg" ;;
    esac
done
[[ "$version" =~ ^3\.[0-9]+$ ]] || { echo "gpu_wheels.sh: PYTHON_VERSION=$version: give major.minor, e.g. 3.12" >&2
                                     exit 2; }
[ "$list" -eq 1 ] || [ -n "$dir" ] || { echo "gpu_wheels.sh: no DIR given; $usage" >&2; exit 2; }
[ ! -e "$dir" ] || [ -d "$dir" ] || { echo "gpu_wheels.sh: $dir is not a folder; give a folder for the wheels" >&2
                                      exit 2; }
skip="torch torchvision $has"

# The requirements to start from: pyproject.toml's, less the packages left out.
requirements() {
    "$py" - "$root/pyproject.toml" "$skip" <<'PY'
import re, sys
try:
    import tomllib
except ImportError:  # Python 3.10: pip carries a copy
    from pip._vendor import tomli as tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
skip = {norm(name) for name in sys.argv[2].split()}
for req in project["project"]["dependencies"] + project["build-system"]["requires"]:
    if norm(re.match(r"[A-Za-z0-9._-]+", req)[0]) not in skip:
        print(req.replace(" ", ""))
PY
}
mapfile -t reqs < <(requirements)
if [ "$list" -eq 1 ]; then
    printf '%s\n' "${reqs[@]}"
    echo "# left out: ${skip% }" >&2
    exit 0
fi

platforms=()
for tag in manylinux1 manylinux2010 manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 \
           manylinux_2_31 manylinux_2_34 manylinux_2_35; do
    platforms+=(--platform "${tag}_x86_64")  # pip matches each tag exactly; glibc 2.35 and later run them all
done
target=(--only-binary=:all: "${platforms[@]}" --python-version "$version" --implementation cp)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "resolving ${reqs[*]} for CPython $version, manylinux x86-64" >&2
"$py" -m pip install --quiet --dry-run --ignore-installed --report "$tmp/report.json" --target "$tmp/none" \
    "${target[@]}" "${reqs[@]}"

# The packages reached from the requirements without passing through a left-out one, as name==version.
mapfile -t pins < <("$py" - "$tmp/report.json" "$version" "$skip" "${reqs[@]}" <<'PY'
import json, re, sys
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
report, version, skip, roots = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
env = {"python_version": version, "python_full_version": version + ".0", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
found = {norm(item["metadata"]["name"]): item["metadata"] for item in json.load(open(report))["install"]}
skip, pins, seen = {norm(name) for name in skip}, {}, set()
todo = [Requirement(r) for r in roots]
while todo:
    req = todo.pop()
    name = norm(req.name)
    if name in skip or (name, frozenset(req.extras)) in seen:
        continue
    seen.add((name, frozenset(req.extras)))
    meta = found[name]
    pins[name] = f"{meta['name']}=={meta['version']}"
    for text in meta.get("requires_dist", []):
        dep = Requirement(text)
        if dep.marker is None or any(dep.marker.evaluate({**env, "extra": e}) for e in ["", *req.extras]):
            todo.append(dep)
print("\n".join(sorted(pins.values())))
PY
)
echo "downloading ${#pins[@]} wheels: ${pins[*]}" >&2
"$py" -m pip download --quiet --no-deps "${target[@]}" -d "$tmp/wheels" "${pins[@]}"
mkdir -p "$dir"
rm -f "$dir"/*.whl  # one version of each: the folder holds this set and nothing older
mv "$tmp"/wheels/*.whl "$dir"/
ls -s --block-size=K "$dir"/*.whl | sed 's/^ *//'
echo "$dir: $(ls "$dir"/*.whl | wc -l) wheels, $(du -sm "$dir" | cut -f1) MiB, for CPython $version;" \
     "left out: ${skip% }" >&2
