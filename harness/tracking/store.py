"""Where runs go: the tracking URI, the experiment, and artifacts relative to ROUTERLAB_HOME.

Store: :func:`tracking_uri` (``MLFLOW_TRACKING_URI``, else the sqlite file under
``ROUTERLAB_HOME``; see :mod:`harness.paths`). When the sqlite file sits in ROUTERLAB_HOME
(the default), experiments created by routerlab keep their artifacts under
``$ROUTERLAB_HOME/mlartifacts`` and record them as ``routerlab-home:///mlartifacts/<id>``: a
URI relative to ROUTERLAB_HOME, read by :class:`HomeArtifactRepository` (registered with
MLflow through the ``mlflow.artifact_repository`` entry point, so ``mlflow ui`` and
``mlflow models serve`` read it too). Moving the whole ROUTERLAB_HOME folder keeps every
artifact reachable: point ROUTERLAB_HOME at the new place. Any other store (a tracking
server, PostgreSQL, a sqlite file elsewhere) gets MLflow's own artifact location.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from harness import paths
from harness.redaction import redact_url
from harness.sqlite_wal import enable_wal
from harness.tracking.schema import DEFAULT_EXPERIMENT

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

HOME_SCHEME = "routerlab-home"
ARTIFACT_FOLDER = "mlartifacts"


def tracking_uri() -> str:
    """The MLflow store URI in effect (``MLFLOW_TRACKING_URI`` or the local sqlite file)."""
    return paths.mlflow_tracking_uri()


def display_uri(uri: str | None = None) -> str:
    """The tracking URI with any credentials masked, for printing."""
    return redact_url(uri or tracking_uri())


def _home_artifact_class() -> type:
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    class HomeArtifactRepository(LocalArtifactRepository):
        """``routerlab-home:///<path>``: the folder ``$ROUTERLAB_HOME/<path>``."""

        def __init__(self, artifact_uri: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(home_artifact_path(artifact_uri).as_uri(), *args, **kwargs)

    return HomeArtifactRepository


def home_artifact_path(artifact_uri: str) -> Path:
    """The local folder a ``routerlab-home:`` URI names, under today's ROUTERLAB_HOME."""
    relative = unquote(urlparse(artifact_uri).path).lstrip("/")
    return paths.home_dir().resolve() / relative


def __getattr__(name: str) -> Any:
    # The entry point names harness.tracking.store:HomeArtifactRepository; built on first
    # use so importing this module does not import mlflow.
    if name == "HomeArtifactRepository":
        return _home_artifact_class()
    raise AttributeError(name)


@functools.cache
def register_home_scheme() -> None:
    """Make ``routerlab-home:`` readable in this process (the entry point does it for
    processes that start MLflow themselves; an editable install made before the entry point
    existed lacks it)."""
    from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry

    _artifact_repository_registry.register(  # type: ignore[no-untyped-call]
        HOME_SCHEME, _home_artifact_class()
    )


def _setup() -> MlflowClient:
    import mlflow
    from mlflow.tracking import MlflowClient

    # The sqlite store runs its schema migrations on first use and alembic logs each one at
    # INFO; that is noise in a CLI summary.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    register_home_scheme()
    uri = tracking_uri()
    _write_ahead_log(uri)
    mlflow.set_tracking_uri(uri)
    if uri in _OPENED:
        return MlflowClient(tracking_uri=uri)
    with _schema_lock(uri):  # the first client of a process runs MLflow's schema setup
        client = MlflowClient(tracking_uri=uri)
    _OPENED.add(uri)
    return client


_OPENED: set[str] = set()
_WAL_FILES: set[str] = set()


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for other stores and in-memory ones."""
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None
    return Path(unquote(uri[len("sqlite:///") :]))


def _write_ahead_log(uri: str) -> None:
    """Open a sqlite tracking store in write-ahead-log mode with ``synchronous=NORMAL``.

    Why: MLflow commits every call (a study of 124 runs made 2,300 commits), and sqlite's
    default rollback journal syncs the disk on each one; in WAL mode with NORMAL syncing a
    commit is an append, synced at checkpoints (a crash can lose the last commits, never the
    file: a run whose ``complete`` tag did not land is redone). WAL also lets readers (the
    UI, a report, other workers' claim checks) read while a worker writes. Applied through
    a SQLAlchemy connect hook, for this store's file only, before MLflow's engine connects.
    """
    db_file = _sqlite_file(uri)
    if db_file is None:
        return
    import os
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not _WAL_FILES:

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            if not isinstance(dbapi_connection, sqlite3.Connection):
                return
            files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
            if any(f and os.path.realpath(f) in _WAL_FILES for f in files):
                enable_wal(dbapi_connection)
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        event.listen(Engine, "connect", on_connect)
    _WAL_FILES.add(os.path.realpath(db_file))


@contextmanager
def _schema_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive file lock beside a sqlite store while MLflow opens it.

    On a fresh sqlite file MLflow creates and migrates its tables on first use; two
    processes doing that at once break each other (``duplicate column name: step``,
    ``table _alembic_tmp_tags already exists``) and a retry does not repair the half-migrated
    file. Serialising the first open does. Database servers (PostgreSQL) migrate inside a
    transaction, so a loser's error rolls back cleanly and :func:`open_store` retries it.
    """
    db_path = _sqlite_file(uri)
    if db_path is None:
        yield
        return
    import fcntl

    db_path.parent.mkdir(parents=True, exist_ok=True)
    with open(db_path.parent / f"{db_path.name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def open_store(attempts: int = 6) -> str:
    """Open the store and the experiment, retrying while another process runs MLflow's
    first-time schema setup on the same fresh database server (a sqlite file is locked
    instead: :func:`_schema_lock`). Returns the experiment id.
    """
    import random

    log = logging.getLogger(__name__)
    for attempt in range(attempts):
        try:
            return experiment_id()
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            log.info("MLflow store busy (%s); retrying", type(exc).__name__)
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def client() -> MlflowClient:
    """An MlflowClient on :func:`tracking_uri` (and the fluent API pointed there too)."""
    return _setup()


def _artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps artifacts: relative to ROUTERLAB_HOME when the sqlite
    store lives there, beside any other sqlite file, else MLflow's default (None)."""
    if urlparse(uri).scheme != "sqlite":
        return None
    db_folder = Path(unquote(uri[len("sqlite:///") :])).resolve().parent
    if db_folder == paths.home_dir().resolve():
        return f"{HOME_SCHEME}:///{ARTIFACT_FOLDER}"
    return (db_folder / ARTIFACT_FOLDER).as_uri()


def experiment_id(name: str = DEFAULT_EXPERIMENT, client: MlflowClient | None = None) -> str:
    """The id of experiment ``name``, created (with a local artifact folder) if needed."""
    client = client or _setup()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    location = _artifact_location(tracking_uri())
    try:
        # Run ids are unique, so experiments may share the folder (mlartifacts/<run id>/).
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # another process created it in between
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return str(exp.experiment_id)


@functools.cache
def git_state() -> tuple[str, bool] | None:
    """(commit, dirty) of the checkout routerlab runs from; None outside a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip(), bool(status.stdout.strip())
