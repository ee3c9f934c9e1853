"""kill -9 a child process at a chosen moment: what the crash-and-resume tests share."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def kill_9_when(process: subprocess.Popen, ready: Callable[[], bool], what: str, seconds: float = 300) -> None:
    """Wait until ready() holds, then SIGKILL the process, which must still be running then;
    `seconds` is generous: the machine may be busy."""
    deadline = time.monotonic() + seconds
    try:
        while not ready():
            assert process.poll() is None, f"the process ended before {what}: {process.stderr.read()}"
            assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
