"""Write-ahead logging for the sqlite files several processes share (LLM call cache,
embedding cache, MLflow store).

``PRAGMA journal_mode=WAL`` takes an exclusive lock while it switches a file's mode, and
sqlite does not call the busy handler for it: two processes opening one new file at the same
moment made the second fail at once with "database is locked" (seen: two labellers started
side by side on an empty cache), whatever ``timeout`` the connection had. Here the switch is
retried until the connection's own timeout has passed.
"""

from __future__ import annotations

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, *, timeout_s: float = 60.0) -> None:
    """Put ``conn``'s database in WAL mode, waiting out another process's switch."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
