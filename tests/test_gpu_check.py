"""bench/gpu_check.sh's plumbing, in its CPU mode on tiny data, and the requirements
bench/gpu_wheels.sh starts from; no network, no GPU."""
import os
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NEEDS_CUDA = {"step", "fp16", "infer-gpu", "syncs", "speed-112", "speed-384"}
PLUMBING = {"setup", "data", "bf16", "resume", "infer-cpu"}


def _bash(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable, **env})


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement)[0]).lower()


def test_the_cpu_mode_skips_what_needs_cuda_and_passes_the_plumbing(tmp_path):
    # every section but ddp, whose torchrun path tests/test_distributed.py covers: it would double the time
    done = _bash("bench/gpu_check.sh", "--cpu", "data", "step", "precision", "resume", "inference", "syncs",
                 "speed-112", "speed-384", OMP_NUM_THREADS="1", WHEELS=str(tmp_path / "none"),
                 KEEP=str(tmp_path / "work"))
    verdicts = dict(re.findall(r"^(\S+) +(PASS|FAIL|SKIP)", done.stdout, re.M))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {check for check, v in verdicts.items() if v == "SKIP"} == NEEDS_CUDA, done.stdout
    assert {check for check, v in verdicts.items() if v == "PASS"} == PLUMBING, done.stdout
    assert all(re.search(rf"^{check} +SKIP \(needs CUDA\)", done.stdout, re.M) for check in NEEDS_CUDA)
    assert re.search(r"^resume +PASS .*metrics\.csv identical", done.stdout, re.M)


def test_the_wheel_list_is_pyprojects_less_what_the_gpu_machine_has():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {_name(r) for r in project["project"]["dependencies"] + project["build-system"]["requires"]}
    everything = _bash("bench/gpu_wheels.sh", "--list", "--all")
    default = _bash("bench/gpu_wheels.sh", "--list")
    assert everything.returncode == default.returncode == 0, everything.stderr + default.stderr
    assert {_name(r) for r in everything.stdout.split()} == wanted - {"torch", "torchvision"}
    assert {_name(r) for r in default.stdout.split()} == wanted - {
        "torch", "torchvision", "numpy", "scipy", "pandas", "scikit-learn", "opencv-python-headless", "matplotlib",
        "pillow", "timm"}
    assert "albumentations>=2.0,<3" in default.stdout.split()  # the versions as pyproject.toml pins them
    named = _bash("bench/gpu_wheels.sh", "--list", GPU_HAS="tqdm albumentations")
    assert {_name(r) for r in named.stdout.split()} == wanted - {"torch", "torchvision", "tqdm", "albumentations"}


def test_bad_arguments_get_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "file").write_text("")
    for args in (["bench/gpu_wheels.sh"], ["bench/gpu_wheels.sh", "--bogus", "x"], ["bench/gpu_wheels.sh", "a", "b"],
                 ["bench/gpu_wheels.sh", str(tmp_path / "file")], ["bench/gpu_check.sh", "--bogus"],
                 ["bench/gpu_check.sh", "speed"]):
        done = _bash(*args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
    assert _bash("bench/gpu_wheels.sh", "x", PYTHON_VERSION="3").returncode == 2
