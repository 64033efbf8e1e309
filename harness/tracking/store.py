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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from harness import paths
from harness.tracking.schema import DEFAULT_EXPERIMENT

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

HOME_SCHEME = "routerlab-home"
ARTIFACT_FOLDER = "mlartifacts"


def tracking_uri() -> str:
    """The MLflow store URI in effect (``MLFLOW_TRACKING_URI`` or the local sqlite file)."""
    return paths.mlflow_tracking_uri()


def display_uri(uri: str | None = None) -> str:
    """The tracking URI with any user:password part masked, for printing."""
    uri = uri or tracking_uri()
    parsed = urlparse(uri)
    if parsed.password or parsed.username:
        host = parsed.hostname or ""
        port = f":{parsed.port}" if parsed.port else ""
        return parsed._replace(netloc=f"***@{host}{port}").geturl()
    return uri


def _home_artifact_class() -> type:
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    class HomeArtifactRepository(LocalArtifactRepository):  # type: ignore[misc]
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

    _artifact_repository_registry.register(HOME_SCHEME, _home_artifact_class())


def _setup() -> MlflowClient:
    import mlflow
    from mlflow.tracking import MlflowClient

    # The sqlite store runs its schema migrations on first use and alembic logs each one at
    # INFO; that is noise in a CLI summary.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    register_home_scheme()
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


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
