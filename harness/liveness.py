"""Who holds a claim, and whether that process still exists.

Claims (a study combination being evaluated, an LLM call in flight) carry an owner id
``host:pid:suffix``. A claim whose owner ran on this machine and whose process is gone
(killed with SIGKILL, crashed) is free at once; one from another machine is free only when
its lease expires.
"""

from __future__ import annotations

import os
import socket
import uuid


def owner_id(suffix: str | None = None) -> str:
    """``host:pid:suffix`` (a random suffix by default): unique per process or thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{suffix or uuid.uuid4().hex[:8]}"


def local_owner_gone(owner: str) -> bool:
    """True if ``owner`` ran on this machine and its process no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child not yet reaped by its parent is a zombie: gone all the same
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
