"""The model hub without network: weights already in the local cache load, others fail at once.

huggingface_hub retries an unreachable hub for about a minute before it gives up; one TCP
connection with a short timeout tells the same in a moment. When the hub cannot be reached,
timm's download runs in the hub library's offline mode, which reads the local cache only.
"""
from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

PROBE_SECONDS = 3.0


def endpoint() -> str:
    """The hub's address (HF_ENDPOINT, else huggingface.co)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return "https://huggingface.co"
    return constants.ENDPOINT


def reachable(url: str, timeout: float = PROBE_SECONDS) -> bool:
    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_unless_reachable() -> Iterator[bool]:
    """Yields whether the hub answered; while it does not, the hub library reads its cache only."""
    online = reachable(endpoint())
    try:
        from huggingface_hub import constants
    except ImportError:
        yield online
        return
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = before or not online
    try:
        yield online
    finally:
        constants.HF_HUB_OFFLINE = before
