"""On-disk cache of LLM calls (sqlite, WAL).

Each completed call is committed on its own, so a process killed with SIGKILL loses at most
the calls in flight and a rerun repeats no completed call. Keys hash the endpoint name and
kind, the model, the messages, the sampling parameters and the sample index (not the base
URL: a local server gets a new port every start, and the same model answers the same).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


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
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, endpoint TEXT, model TEXT,"
            " request TEXT, response TEXT, created REAL DEFAULT (julianday('now')))"
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

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def default_cache_path() -> Path:
    from harness.paths import cache_dir

    return cache_dir() / "llm_cache.sqlite"
