"""The facebench build the benchmark scripts share: a built folder, or the cached build of the
builder beside the project (../shared/facebench). A helper of bench/, not a script."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from base.errors import UserError
from data_loader.demo_data import default_cache_dir


def built_facebench(folder: Path) -> Path:
    """A built facebench layout: `folder` itself, or the cached build of the builder in it."""
    if (folder / "eval" / "answers.csv").exists():
        return folder
    if not (folder / "build.py").exists():
        raise UserError(f"{folder}: neither a facebench build (eval/answers.csv) nor the facebench folder with "
                        "build.py; pass --facebench DIR")
    out = default_cache_dir() / "facebench"
    if not (out / "eval" / "answers.csv").exists():
        partial = out.with_name("facebench.partial")
        shutil.rmtree(partial, ignore_errors=True)
        print(f"building facebench into {out} (about 90 s, once)", flush=True)
        if subprocess.run([sys.executable, str(folder / "build.py"), "--out", str(partial)]).returncode:
            raise UserError(f"{folder / 'build.py'} failed (its message is above); nothing was kept")
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
    return out
