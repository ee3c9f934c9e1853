"""bench/gpu_check.sh on the CPU: its plumbing in the CPU mode on tiny data, each verdict fed the
fault it exists to catch (and shown failing), no CUDA outside --cpu, the process tree ended at a
section's limit, and the requirements bench/gpu_wheels.sh starts from; no network, no GPU."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NEEDS_CUDA = {"step", "fp16", "infer-gpu", "syncs", "speed-112", "speed-384"}
PLUMBING = {"setup", "data", "fp16-step", "bf16", "resume", "infer-cpu"}

# Each fault, as a sitecustomize.py that every process of the check (torchrun's workers too) loads.
FAULTS = {
    # GradScaler checks for inf/nan but leaves the gradients scaled x65536
    "never-unscaled": """
import torch
unscale = torch.amp.GradScaler._unscale_grads_
def keep_scaled(self, optimizer, inv_scale, found_inf, allow_fp16):
    return unscale(self, optimizer, torch.ones_like(inv_scale), found_inf, allow_fp16)
torch.amp.GradScaler._unscale_grads_ = keep_scaled
""",
    # DDP whose gradient buckets never leave the process
    "never-all-reduced": """
import torch
from torch.nn.parallel import DistributedDataParallel
def local_only(state, bucket):
    done = torch.futures.Future()
    done.set_result(bucket.buffer())
    return done
wrap = DistributedDataParallel.__init__
def wrap_then_stay_local(self, *args, **kwargs):
    wrap(self, *args, **kwargs)
    self.register_comm_hook(None, local_only)
DistributedDataParallel.__init__ = wrap_then_stay_local
""",
    # validation scores each rank's own BatchNorm statistics, not rank 0's
    "buffers-never-synced": """
from base import distributed
distributed.sync_buffers = lambda model, world: None
""",
    # a resume that restores the random streams, then draws once more
    "shifted-random-stream": """
import torch
from base import checkpoint_files
restore = checkpoint_files.set_rng_state
def restore_then_draw(state):
    note = restore(state)
    torch.rand(1)
    return note
checkpoint_files.set_rng_state = restore_then_draw
""",
}


def _bash(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHON": sys.executable, **env})


def _section(section: str, work: Path, fault: str | None = None, tmp_path: Path | None = None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASK18_CACHE": str(work / "cache")}
    if fault:
        folder = tmp_path / fault
        folder.mkdir()
        (folder / "sitecustomize.py").write_text(FAULTS[fault])
        env["PYTHONPATH"] = os.pathsep.join([str(folder), str(ROOT)])
    return subprocess.run([sys.executable, "bench/gpu_check.py", section, "--work", str(work), "--cpu"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)


def _verdicts(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S+) +(PASS|FAIL|SKIP)", text, re.M))


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement)[0]).lower()


@pytest.fixture(scope="module")
def check_data(tmp_path_factory) -> Path:
    """A work folder with the CPU mode's demo data, which the sections below share."""
    work = tmp_path_factory.mktemp("gpu-check")
    done = _section("data", work)
    assert done.returncode == 0, done.stdout + done.stderr
    return work


def test_the_cpu_mode_skips_what_needs_cuda_and_passes_the_plumbing(tmp_path):
    # every section but ddp, which the tests below run on its own: it would double the time
    sections = ["step", "precision", "resume", "inference", "syncs", "speed-112", "speed-384"]
    done = _bash("bench/gpu_check.sh", "--cpu", *sections, OMP_NUM_THREADS="1", WHEELS=str(tmp_path / "none"),
                 KEEP=str(tmp_path / "work"))
    verdicts = _verdicts(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {check for check, v in verdicts.items() if v == "SKIP"} == NEEDS_CUDA, done.stdout
    assert {check for check, v in verdicts.items() if v == "PASS"} == PLUMBING, done.stdout
    assert all(re.search(rf"^{check} +SKIP \(needs CUDA\)", done.stdout, re.M) for check in NEEDS_CUDA)
    assert re.search(r"^resume +PASS .*metrics\.csv identical", done.stdout, re.M)
    # every section asked for ran, and says how long it took against its limit
    assert re.findall(r"^(\S+) +took \d+ s of its \d+ s limit$", done.stdout, re.M) == ["data", *sections]
    assert re.search(r"^done +\d+ s \(seconds/limit: data \d+/60, step .*\), nothing failed$", done.stdout, re.M)


def test_without_a_cuda_device_the_check_fails_unless_told_cpu():
    done = _bash("bench/gpu_check.sh", "step", CUDA_VISIBLE_DEVICES="")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.fullmatch(r"setup +FAIL torch sees no CUDA device: .*--cpu checks the plumbing alone\n", done.stdout)


def test_the_ddp_section_compares_every_ranks_state(check_data):
    """Two gloo processes on the CPU with accumulation over 3 batches, EMA, clipping and dropout:
    parameters, saved weights and optimizer state equal on both ranks, resumed too."""
    done = _section("ddp", check_data)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(done.stdout) == {"ddp": "PASS", "ddp-run": "PASS", "ddp-resume": "PASS", "ddp-kfold": "SKIP"}
    assert re.search(r"^ddp +PASS gloo on the CPU, accumulate 3, EMA, clip, dropout: \d+ tensors hashed on 2 "
                     r"ranks, 0 differ", done.stdout, re.M)


@pytest.mark.parametrize(("section", "fault", "check"), [
    ("precision", "never-unscaled", "fp16-step"),
    ("ddp", "never-all-reduced", "ddp"),
    ("ddp", "buffers-never-synced", "ddp"),
    ("resume", "shifted-random-stream", "resume"),
])
def test_each_verdict_fails_on_the_fault_it_exists_to_catch(check_data, tmp_path, section, fault, check):
    done = _section(section, check_data, fault, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdicts(done.stdout)[check] == "FAIL", done.stdout + done.stderr


def test_a_skip_outside_the_cpu_mode_is_a_failure():
    code = ("from gpu_check_kit import Check\n"
            "strict, plumbing = Check(cpu=False), Check(cpu=True)\n"
            "for check in (strict, plumbing): check.say('x', 'SKIP', '(needs the bf16 run)')\n"
            "print(strict.failed, plumbing.failed)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "bench", capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "True False", done.stdout + done.stderr
    assert "a SKIP outside --cpu counts as a failure" in done.stdout.splitlines()[0]


def test_a_stopped_section_ends_every_descendant_even_in_sessions_of_their_own(tmp_path):
    """torchrun starts its workers in sessions of their own: a kill of its process group misses
    them. Here a child starts such a grandchild, which must be gone after end_tree."""
    pid_file = tmp_path / "grandchild.pid"
    code = f"""
import subprocess, sys, time
from pathlib import Path
from gpu_check_kit import end_tree, start
child = start([sys.executable, "-c", '''
import subprocess, sys, time
from pathlib import Path
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
Path({str(pid_file)!r}).write_text(str(g.pid))
time.sleep(600)
'''], Path({str(tmp_path / "child.log")!r}))
while not Path({str(pid_file)!r}).exists():
    time.sleep(0.05)
end_tree(child, grace=1.0)
print(child.returncode)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "bench", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    grandchild = int(pid_file.read_text())
    for _ in range(100):  # reaped by init a moment later
        if not Path(f"/proc/{grandchild}").exists() or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]:
            break
        subprocess.run(["sleep", "0.05"])
    else:
        os.kill(grandchild, 9)
        raise AssertionError("the grandchild outlived its section")


def test_setup_names_what_is_missing_or_out_of_range(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["tqdm>=999", "numpy>=1", "no-such-package>=1", "albumentations<1"]\n')
    done = subprocess.run([sys.executable, "bench/gpu_check_setup.py", str(tmp_path / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    need, why = done.stdout.strip().split(" -- ")
    assert need.split() == ["need", "tqdm>=999", "no-such-package>=1", "albumentations<1"], done.stdout + done.stderr
    assert re.search(r"tqdm \S+ is installed, >=999 is needed", why) and "no-such-package does not import" in why


def test_no_shell_script_pipes_into_an_early_exiting_grep():
    """Under pipefail `printf ... | grep -q` fails now and then: grep exits at its match and the
    writer dies of SIGPIPE. The scripts look names up in bash instead."""
    scripts = [ROOT / ".ci" / "run", *ROOT.glob("**/*.sh")]
    found = [f"{p.relative_to(ROOT)}:{i}" for p in scripts if ".venv" not in p.parts
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if not line.lstrip().startswith("#") and re.search(r"\|\s*grep\s+-\w*[qm]", line)]
    assert not found, found


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
                 ["bench/gpu_check.sh", "speed"], ["bench/gpu_check.sh", "x]"], ["bench/gpu_check.sh", "$(date)"]):
        done = _bash(*args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
    assert _bash("bench/gpu_wheels.sh", "x", PYTHON_VERSION="3").returncode == 2
