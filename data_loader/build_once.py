"""A cache file built once by one builder, among processes and machines that share its folder.

    build_once(path, write)   make `path` with write(tmp) unless it exists; True when this call made it

A file that exists is never replaced: other processes, on other machines too, may have it
memory-mapped, and a file swapped under a mapping on NFS leaves stale handles (SIGBUS later).
So the finished file is published with a hard link, which fails where the name exists.

One builder: it holds `<path>.lock`, created with O_CREAT|O_EXCL (atomic on local disks and on
NFS v3 and later), which says its host, pid and start time; it touches the lock every
HEARTBEAT_SECONDS while it writes. The others wait for the finished file. A lock is stale, and a
waiter removes it and builds itself, when its holder is a process of this host that is gone, or
when its modification time has not moved for STALE_SECONDS while the waiter watched it (a holder
on another machine that died; timed on the waiter's own clock, so clocks that differ between
machines do not matter). Should two waiters take over one stale lock at once, both build, and
the second one's copy is dropped at the hard link: work done twice, never a file replaced.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from base.repeating import repeating

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 120.0  # well above NFS's attribute caching (60 s at most by default)
POLL_SECONDS = 0.5


def build_once(path: str | os.PathLike, write: Callable[[Path], None]) -> bool:
    """Make `path` with write(tmp), a new file beside it, unless it exists or another process
    builds it (then wait for it); True when this call made it."""
    path = Path(path)
    lock = path.with_name(path.name + ".lock")
    watch = _Watch()
    while not path.exists():
        token = _take(lock)
        if token is None:
            if watch.stale(lock):
                lock.unlink(missing_ok=True)
            else:
                _pause(POLL_SECONDS)
            continue
        try:
            with _heartbeat(lock):
                return not path.exists() and _publish(path, write)
        finally:
            _release(lock, token)
    return False


def _take(lock: Path) -> str | None:
    """The lock's token when this call created it, else None."""
    token = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
                        "id": uuid.uuid4().hex})
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as file:
        file.write(token)
    return token


def _release(lock: Path, token: str) -> None:
    try:
        if lock.read_text() == token:  # not a lock another process took over as stale
            lock.unlink()
    except FileNotFoundError:
        pass


class _Watch:
    """When a waiter last saw the lock's modification time change (its own monotonic clock)."""

    def __init__(self):
        self.mtime, self.since = None, _clock()

    def stale(self, lock: Path) -> bool:
        try:
            mtime, text = lock.stat().st_mtime_ns, lock.read_text()
        except FileNotFoundError:
            return False  # released: look for the file again
        if _dead_here(text):
            return True
        now = _clock()
        if mtime != self.mtime:
            self.mtime, self.since = mtime, now
        return now - self.since > STALE_SECONDS


def _dead_here(text: str) -> bool:
    """Whether the lock's holder is a process of this host that no longer runs."""
    try:
        holder = json.loads(text)
        if holder["host"] != socket.gethostname():
            return False
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, KeyError, TypeError, PermissionError):  # half-written, or another user's process
        return False
    return False


def _heartbeat(lock: Path):
    """Touch `lock` every HEARTBEAT_SECONDS meanwhile, so waiters elsewhere see its holder alive."""
    def touch() -> None:
        try:
            os.utime(lock)
        except OSError:
            pass

    return repeating(touch, HEARTBEAT_SECONDS)


def _publish(path: Path, write: Callable[[Path], None]) -> bool:
    """write() a temp file beside `path`, then link it in where nothing is; False when another
    builder's file got there first (ours is dropped)."""
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: the lock alone keeps builders apart
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _pause(seconds: float) -> None:
    time.sleep(seconds)


_clock = time.monotonic  # the waiter's own clock (tests replace it and _pause)
