"""Where routerlab reads data and keeps its state. Every location can be overridden.

* ``ROUTERLAB_DATA_DIR``: the benchmark and training data (``routerlab data fetch`` fills it).
  Default ``~/.cache/routerlab/data``; tests and CI point it at ``../shared/data``.
* ``ROUTERLAB_CACHE_DIR``: embeddings, LLM call cache, model files.
  Default ``~/.cache/routerlab``.
* ``ROUTERLAB_HOME``: run state of the current project (MLflow sqlite store, Optuna
  sqlite storage, reports). Default ``./.routerlab``.
* ``MLFLOW_TRACKING_URI`` overrides the MLflow store; ``ROUTERLAB_OPTUNA_STORAGE`` the
  Optuna storage URL.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    env = os.environ.get("ROUTERLAB_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "routerlab" / "data"


def cache_dir() -> Path:
    env = os.environ.get("ROUTERLAB_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "routerlab"


def home_dir() -> Path:
    env = os.environ.get("ROUTERLAB_HOME")
    return Path(env).expanduser() if env else Path.cwd() / ".routerlab"


def with_sql_driver(url: str) -> str:
    """``postgresql://...`` spelled with the driver routerlab installs (psycopg2).

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, which is not a dependency;
    an explicit ``postgresql+driver://`` is left as it is.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


def mlflow_tracking_uri() -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return with_sql_driver(env)
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(home / 'mlflow.db').resolve()}"


def optuna_storage_url() -> str:
    env = os.environ.get("ROUTERLAB_OPTUNA_STORAGE")
    if env:
        return with_sql_driver(env)
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(home / 'optuna.db').resolve()}"
