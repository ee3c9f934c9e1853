"""Atomic file writes: a reader sees the old file or the new one, never half of one. A write that
fails for want of disk space is one line saying so; the old file stays."""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import torch

from base.errors import UserError

# torch.save reports a full disk as "unexpected pos" or "file write failed", without an errno:
# below this much free space such a failure is taken for one.
LOW_SPACE = 256 * 2**20


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        if full := _full_disk(path, err):
            raise full from None
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, (OSError, RuntimeError)) and (full := _full_disk(path, err)):
            raise full from None
        raise


def _full_disk(path: Path, err: Exception) -> UserError | None:
    """The one line for a write that failed for want of space, or None when that was not why."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or (
        isinstance(err, RuntimeError) and free is not None and free < LOW_SPACE)
    if not full:
        return None
    left = f"{free / 2**20:.0f} MiB free" if free is not None else "no space left"
    kept = f"; the previous {path.name} is unchanged" if path.exists() else ""
    return UserError(f"{path}: not written, the disk is full ({left} in {path.parent}); free some space or "
                     f"move the output (runs_dir, --out) to another disk{kept}")


@contextmanager
def atomic_paths(paths: list[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temp paths beside every one of `paths`; they replace `paths` together once all were written,
    so an error while writing any of them leaves every one as it was (all written, or none)."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(path)) for path in paths]


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def torch_save(path: str | os.PathLike, obj: object) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
