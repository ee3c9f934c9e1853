"""A heartbeat: an action repeated in a background thread while a block of code runs.

    with repeating(lambda: os.utime(lock), seconds=10):   # the cache builder's lock
        build()

What the cache lock (data_loader/build_once.py) and the search's asked trials (tuning/worker.py)
each need; threading.Timer fires once, and sched blocks the caller, so neither fits.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def repeating(action: Callable[[], None], seconds: float, first_now: bool = False) -> Iterator[None]:
    """Call action() every `seconds` (and once at the start with `first_now`) in a daemon thread
    until the block ends; the thread is joined before the block's end returns."""
    done = threading.Event()

    def loop() -> None:
        if first_now:
            action()
        while not done.wait(seconds):
            action()

    thread = threading.Thread(target=loop, name="repeating", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
