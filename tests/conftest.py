"""Shared fixtures. Tests run against the real data directory (ROUTERLAB_DATA_DIR, default
``../shared/data`` beside the checkout) and real local stores in temporary folders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _resolve_data_dir() -> Path:
    env = os.environ.get("ROUTERLAB_DATA_DIR")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data; a missing directory is an error, not a skip."""
    path = _resolve_data_dir()
    if not (path / "routellm").is_dir():
        pytest.fail(
            f"benchmark data not found in {path}: set ROUTERLAB_DATA_DIR or run "
            "`routerlab data fetch` (the README's test command does this)"
        )
    return path


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own MLflow store, Optuna storage and run-state folder.

    The embedding/model cache (ROUTERLAB_CACHE_DIR) is shared across tests on purpose: it
    holds the local model files and embeddings that are expensive to rebuild.
    """
    home = tmp_path / "routerlab_home"
    monkeypatch.setenv("ROUTERLAB_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.delenv("ROUTERLAB_OPTUNA_STORAGE", raising=False)
    monkeypatch.setenv("ROUTERLAB_DATA_DIR", str(_resolve_data_dir()))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    home.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL server of ``.ci/postgres.sh``; skipped without one unless required."""
    url = os.environ.get("ROUTERLAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("ROUTERLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "ROUTERLAB_REQUIRE_POSTGRES=1 but ROUTERLAB_TEST_POSTGRES_URL is unset; "
                "run `source .ci/postgres.sh`"
            )
        pytest.skip("ROUTERLAB_TEST_POSTGRES_URL unset (source .ci/postgres.sh to run this)")
    return url


@pytest.fixture
def fresh_postgres_store(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database as the MLflow store, dropped afterwards (MLflow's schema
    must not share a database with Optuna's: both keep an ``alembic_version`` table)."""
    import sqlalchemy as sa

    url = postgres_url
    name = f"rl_workers_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    store = str(sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    try:
        yield store
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
