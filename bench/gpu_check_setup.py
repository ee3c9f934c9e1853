"""What bench/gpu_check.sh must install before it can check anything, and what the machine is.

    python bench/gpu_check_setup.py pyproject.toml

Prints one line. Either `need REQ ...`: pyproject.toml's dependencies (as it writes them, spaces
dropped) that do not import here or whose installed version is outside the range it asks for,
then ` -- ` and why, for the log; or `cuda|nocuda <versions>`: every dependency is in range,
and whether torch sees a CUDA device, with the versions a reader of the check's output needs.
A version is read from the installed distribution, or, where the image carries the package
under another name (opencv-python for opencv-python-headless), from the module itself.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys

try:
    import tomllib
except ImportError:  # Python 3.10: pip carries a copy
    from pip._vendor import tomli as tomllib
try:
    from packaging.requirements import Requirement
except ImportError:  # pip carries a copy
    from pip._vendor.packaging.requirements import Requirement

MODULES = {"opencv-python-headless": "cv2", "pillow": "PIL", "scikit-learn": "sklearn"}  # where names differ


def installed_version(name: str, module) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return getattr(module, "__version__", None)


def why_needed(requirement: str) -> str | None:
    """None when `requirement` is met here, else what is wrong with it."""
    req = Requirement(requirement)
    try:
        module = importlib.import_module(MODULES.get(req.name.lower(), req.name.lower().replace("-", "_")))
    except Exception as err:  # an ImportError, or a dependency of it that broke on import
        return f"{req.name} does not import ({type(err).__name__})"
    version = installed_version(req.name, module)
    if version is None or not req.specifier or req.specifier.contains(re.sub(r"\+.*", "", version),
                                                                      prereleases=True):
        return None
    return f"{req.name} {version} is installed, {req.specifier} is needed"


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    seen = f"{torch.cuda.device_count()} GPU(s) {gpu}, bf16 {torch.cuda.is_bf16_supported()}" if gpu else \
        "no CUDA device visible"
    return f"{'cuda' if gpu else 'nocuda'} python {sys.version.split()[0]}, torch {torch.__version__} ({build}), {seen}"


def main() -> None:
    project = tomllib.load(open(sys.argv[1], "rb"))["project"]
    reasons = {req.replace(" ", ""): why for req in project["dependencies"] if (why := why_needed(req))}
    print(f"need {' '.join(reasons)} -- {'; '.join(reasons.values())}" if reasons else machine())


if __name__ == "__main__":
    main()
