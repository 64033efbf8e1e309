"""Claims: which worker evaluates which combination of a study, so several workers share it.

Several ``routerlab run`` processes on one study (on one machine, or on several sharing a
PostgreSQL-backed MLflow store) each evaluate a combination only after claiming it in the
table ``routerlab_claims`` of the tracking database (the MLflow store itself when it is a
database; with a remote MLflow server, the Optuna storage database). The table's primary key
``(study, key)`` lets the database decide every race:

* a claim is an ``INSERT`` of the row; the primary key makes a second insert fail;
* taking over a row (its worker died, its lease expired, or it is ``done``/``failed`` but the
  combination has no complete run) is one ``UPDATE ... WHERE worker = <seen> AND
  heartbeat = <seen>``: a compare-and-set, so of two workers trying at once exactly one
  changes the row (``rowcount == 1``);
* the holder refreshes ``heartbeat`` from a background thread every ``lease / 4`` seconds; a
  row not refreshed for ``lease`` seconds is free again (a worker killed with SIGKILL on
  another machine). A holder on this machine whose process is gone is free at once.

The study's parent MLflow run is agreed the same way (the row with key ``(parent)``).
MLflow stays the record of what is finished (``routerlab.complete``); a claim only says who
is working, so a lost claims table costs at most some double work, never a result.
Clocks of machines sharing a study should agree to well within the lease (60 s default).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness import paths
from harness.liveness import local_owner_gone, owner_id

log = logging.getLogger(__name__)

TABLE = "routerlab_claims"
PARENT_KEY = "(parent)"
DEFAULT_LEASE_SECONDS = 60.0
_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle")


def claims_url() -> str:
    """The database holding the claims: the MLflow store if it is one, else Optuna's."""
    uri = paths.mlflow_tracking_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in _DATABASE_SCHEMES:
        return uri
    return paths.optuna_storage_url()


def worker_id() -> str:
    """``host:pid:random``: unique per process, and says where to check if it is alive."""
    return owner_id()


class Claim:
    """A held claim on one combination; a background thread keeps its heartbeat fresh."""

    def __init__(self, board: ClaimBoard, key: str) -> None:
        self.board = board
        self.key = key
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"claim-{key}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.board.lease_seconds / 4):
            try:
                if not self.board.refresh(self.key):
                    log.warning("claim on %s was taken over by another worker", self.key)
                    self.lost = True
                    return
            except Exception as exc:  # a database hiccup: the next beat tries again
                log.warning("claim heartbeat failed (%s: %s)", type(exc).__name__, exc)

    def confirm(self) -> bool:
        """Still ours? (refreshes the heartbeat; call right before recording the result)."""
        if self.lost:
            return False
        return self.board.refresh(self.key)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class ClaimBoard:
    """The claims of one study in one database."""

    def __init__(
        self,
        study: str,
        url: str | None = None,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        worker: str | None = None,
    ) -> None:
        import sqlalchemy as sa

        self.study = study
        self.url = url or claims_url()
        self.lease_seconds = float(lease_seconds)
        self.worker = worker or worker_id()
        connect_args: dict[str, Any] = {}
        if self.url.startswith("sqlite"):
            # Several processes write one sqlite file: wait for its lock instead of failing.
            connect_args["timeout"] = 60
        self.engine = sa.create_engine(self.url, connect_args=connect_args, pool_pre_ping=True)
        self.table = sa.Table(
            TABLE,
            sa.MetaData(),
            sa.Column("study", sa.String(256), primary_key=True),
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("worker", sa.String(256), nullable=False),
            sa.Column("heartbeat", sa.Float, nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("run_id", sa.String(64), nullable=True),
        )
        self._create_table()

    def _create_table(self) -> None:
        import random

        from sqlalchemy.exc import DBAPIError

        for attempt in range(6):
            try:
                self.table.metadata.create_all(self.engine, checkfirst=True)
                return
            except DBAPIError:  # another worker created it in between ("already exists")
                if attempt == 5:
                    raise
                time.sleep(0.2 + random.random())

    def _where(self, key: str) -> Any:
        return (self.table.c.study == self.study) & (self.table.c.key == key)

    def row(self, key: str) -> Any:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            return conn.execute(sa.select(self.table).where(self._where(key))).first()

    def _insert(self, key: str, state: str, run_id: str | None = None) -> bool:
        from sqlalchemy.exc import IntegrityError

        try:
            with self.engine.begin() as conn:
                conn.execute(
                    self.table.insert().values(
                        study=self.study,
                        key=key,
                        worker=self.worker,
                        heartbeat=time.time(),
                        state=state,
                        run_id=run_id,
                    )
                )
            return True
        except IntegrityError:
            return False

    def _takeable(self, row: Any, now: float) -> bool:
        if row.state in ("done", "failed"):
            return True  # the caller checks MLflow for a complete run after claiming
        return now - row.heartbeat > self.lease_seconds or local_owner_gone(row.worker)

    def try_claim(self, key: str) -> Claim | None:
        """Claim ``key`` for this worker, or None if a live worker holds it."""
        for _ in range(3):
            if self._insert(key, "running"):
                return Claim(self, key)
            row = self.row(key)
            if row is None:
                continue  # released between our insert and our read
            if row.worker == self.worker and row.state == "running":
                return Claim(self, key)
            if not self._takeable(row, time.time()):
                return None
            with self.engine.begin() as conn:
                taken = conn.execute(
                    self.table.update()
                    .where(
                        self._where(key)
                        & (self.table.c.worker == row.worker)
                        & (self.table.c.heartbeat == row.heartbeat)
                    )
                    .values(worker=self.worker, heartbeat=time.time(), state="running")
                ).rowcount
            if taken == 1:
                if row.state == "running":
                    log.info("took over %s from %s (gone or lease expired)", key, row.worker)
                return Claim(self, key)
            return None
        return None

    def refresh(self, key: str) -> bool:
        """Renew this worker's heartbeat on ``key``; False if the claim is no longer ours."""
        with self.engine.begin() as conn:
            n = conn.execute(
                self.table.update()
                .where(self._where(key) & (self.table.c.worker == self.worker))
                .values(heartbeat=time.time())
            ).rowcount
        return n == 1

    def finish(self, claim: Claim, state: str) -> None:
        """End ``claim``: ``done`` (recorded in MLflow) or ``failed`` (others may retry)."""
        claim.stop()
        with self.engine.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self._where(claim.key) & (self.table.c.worker == self.worker))
                .values(state=state, heartbeat=time.time())
            )

    @contextmanager
    def holding(self, claim: Claim) -> Iterator[Claim]:
        """Hold ``claim`` for a block: ``done`` when it ends normally, ``failed`` on error."""
        try:
            yield claim
        except BaseException:
            self.finish(claim, "failed")
            raise
        self.finish(claim, "done")

    def held_by_others(self, keys: set[str]) -> dict[str, str]:
        """Of ``keys``, those a live worker other than this one is running: key -> worker."""
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(self.table).where(
                    (self.table.c.study == self.study) & (self.table.c.state == "running")
                )
            ).fetchall()
        now = time.time()
        return {
            r.key: r.worker
            for r in rows
            if r.key in keys and r.worker != self.worker and not self._takeable(r, now)
        }

    def agree_parent(self, run_id: str, *, replacing: str | None = None) -> str:
        """The study's parent run: ``run_id`` if this worker registers first (or replaces the
        deleted run ``replacing``), else the one another worker registered (the caller then
        deletes its own)."""
        if replacing is not None:
            with self.engine.begin() as conn:
                conn.execute(
                    self.table.update()
                    .where(self._where(PARENT_KEY) & (self.table.c.run_id == replacing))
                    .values(run_id=run_id, worker=self.worker, heartbeat=time.time())
                )
        elif self._insert(PARENT_KEY, "parent", run_id):
            return run_id
        return self.parent() or run_id

    def parent(self) -> str | None:
        row = self.row(PARENT_KEY)
        return str(row.run_id) if row is not None and row.run_id else None

    def close(self) -> None:
        self.engine.dispose()
