"""On-disk cache of LLM calls (sqlite, WAL).

Each completed call is committed on its own, so a process killed with SIGKILL loses at most
the calls in flight and a rerun repeats no completed call. Keys hash the endpoint name and
kind, the model, the messages, the sampling parameters and the sample index (not the base
URL: a local server gets a new port every start, and the same model answers the same).

Several processes may share one cache (two labellers on one model). Before calling, a
process claims the key in the ``inflight`` table (primary key: one claimant); the others wait
for its answer instead of paying for the same request. A claim whose process is gone
(SIGKILL) is taken over at once, one past its expiry (a hung claimant) too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from harness.liveness import local_owner_gone
from harness.sqlite_wal import enable_wal


def cache_key(
    endpoint: str,
    kind: str,
    model: str,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    sample_index: int,
) -> str:
    payload = json.dumps(
        {
            "endpoint": endpoint,
            "kind": kind,
            "model": model,
            "messages": messages,
            "params": params,
            "sample_index": sample_index,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LLMCache:
    """A thread-safe key → JSON store in one sqlite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared by threads behind a lock; autocommit so each put is durable.
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=60
        )
        enable_wal(self._conn, timeout_s=60)
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, endpoint TEXT, model TEXT,"
            " request TEXT, response TEXT, created REAL DEFAULT (julianday('now')))"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS inflight (key TEXT PRIMARY KEY, owner TEXT NOT NULL,"
            " expires REAL NOT NULL)"
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(
        self, key: str, endpoint: str, model: str, request: dict[str, Any], response: dict[str, Any]
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO calls (key, endpoint, model, request, response)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    endpoint,
                    model,
                    json.dumps(request, ensure_ascii=False),
                    json.dumps(response, ensure_ascii=False),
                ),
            )

    def claim(self, key: str, owner: str, seconds: float) -> bool:
        """Claim ``key`` for ``owner`` for ``seconds``; False while another live owner has it."""
        now = time.time()
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO inflight (key, owner, expires) VALUES (?, ?, ?)",
                    (key, owner, now + seconds),
                )
                return True
            except sqlite3.IntegrityError:
                row = self._conn.execute(
                    "SELECT owner, expires FROM inflight WHERE key = ?", (key,)
                ).fetchone()
        if row is None:
            return self.claim(key, owner, seconds)  # released in between
        held_by, expires = row
        if held_by != owner and expires > now and not local_owner_gone(held_by):
            return False
        with self._lock:  # take over: compare-and-set on what was read
            taken = self._conn.execute(
                "UPDATE inflight SET owner = ?, expires = ? WHERE key = ? AND owner = ?"
                " AND expires = ?",
                (owner, now + seconds, key, held_by, expires),
            ).rowcount
        return taken == 1

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim on ``key`` (its answer is stored, or the call failed)."""
        with self._lock:
            self._conn.execute("DELETE FROM inflight WHERE key = ? AND owner = ?", (key, owner))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def default_cache_path() -> Path:
    from harness.paths import cache_dir

    return cache_dir() / "llm_cache.sqlite"
