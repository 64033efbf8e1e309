"""MLflow tracking: every evaluation is a run; several in one command are children of a parent.

Store: :func:`tracking_uri` (``MLFLOW_TRACKING_URI``, else a sqlite file under
``ROUTERLAB_HOME``; see :mod:`harness.paths`). With a sqlite store, artifacts go to
``mlartifacts/`` beside the database rather than MLflow's default ``./mlruns`` in the current
folder. Experiment: ``routerlab`` unless told otherwise.

What an evaluation run holds (written by :func:`log_evaluation`):

* params: whatever the caller passes, flattened (``router_params.k``), with any key that
  contains ``key``, ``token``, ``secret`` or ``password`` dropped so secrets never reach the
  store;
* metrics: the flat dict of :func:`harness.metrics.summarize`, plus the curve as step
  metrics ``curve_quality`` and ``oracle_curve_quality`` (step = strong calls in percent,
  0..100);
* tags: ``routerlab.system``, ``routerlab.router``, ``routerlab.label_source``,
  ``routerlab.benchmark``, ``routerlab.grid``, ``routerlab.kind`` (``evaluation`` or
  ``parent``) and the caller's extra tags (studies add ``routerlab.study``,
  ``routerlab.key``);
* artifacts: ``curve.csv`` and ``oracle_curve.csv`` (every point of the curve),
  ``curve.png`` (quality vs strong-call share with weak, strong, random and oracle lines),
  ``data_sha256.json`` (every data file read and its sha256).

Reports find runs with :func:`find_runs`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from harness import paths

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

    from harness.metrics import Curve
    from harness.records import Benchmark

DEFAULT_EXPERIMENT = "routerlab"
SECRET_WORDS = ("key", "token", "secret", "password")
TAG_PREFIX = "routerlab."
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value


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


def _setup() -> MlflowClient:
    import mlflow
    from mlflow.tracking import MlflowClient

    # The sqlite store runs its schema migrations on first use and alembic logs each one at
    # INFO; that is noise in a CLI summary.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def client() -> MlflowClient:
    """An MlflowClient on :func:`tracking_uri` (and the fluent API pointed there too)."""
    return _setup()


def _artifact_location(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db_path = Path(unquote(uri[len("sqlite:///") :]))
    return (db_path.parent / "mlartifacts").resolve().as_uri()


def experiment_id(name: str = DEFAULT_EXPERIMENT, client: MlflowClient | None = None) -> str:
    """The id of experiment ``name``, created (with a local artifact folder) if needed."""
    client = client or _setup()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    try:
        return str(
            client.create_experiment(name, artifact_location=_artifact_location(tracking_uri()))
        )
    except Exception:  # another process created it in between
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return str(exp.experiment_id)


# -- params ------------------------------------------------------------------------------------


def is_secret(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in SECRET_WORDS)


def _looks_secret(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("sk-", "Bearer ")) and len(value) > 20


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as flat ``a.b`` keys with string values; secrets dropped."""
    out: dict[str, str] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if is_secret(str(key)) or _looks_secret(value):
            continue
        if isinstance(value, Mapping):
            out.update(flatten_params(value, prefix=f"{full}."))
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            text = json.dumps(sorted(value) if isinstance(value, (set, frozenset)) else list(value),
                              default=str)
        else:
            text = str(value)
        out[full] = text[:MAX_PARAM_CHARS]
    return out


def _clean_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and not math.isinf(float(v))}


# -- runs ----------------------------------------------------------------------------------------


@contextmanager
def parent_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Open a parent run; evaluations logged inside become its children. Yields the run id."""
    import mlflow

    client = _setup()
    exp_id = experiment_id(experiment, client)
    all_tags = {f"{TAG_PREFIX}kind": "parent", **(tags or {})}
    with mlflow.start_run(
        experiment_id=exp_id, run_name=name, nested=mlflow.active_run() is not None, tags=all_tags
    ) as run:
        if params:
            mlflow.log_params(flatten_params(params))
        yield run.info.run_id


def log_evaluation(
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    curve: Curve,
    oracle_curve: Curve | None = None,
    benchmark: Benchmark | None = None,
    title: str = "",
    experiment: str = DEFAULT_EXPERIMENT,
) -> str:
    """Write one evaluation run (child of the active run if there is one); returns its id."""
    import mlflow
    import numpy as np
    from mlflow.entities import Metric

    from harness.plotting import plot_curve

    client = _setup()
    active = mlflow.active_run()
    exp_id = active.info.experiment_id if active is not None else experiment_id(experiment, client)
    all_tags = {f"{TAG_PREFIX}kind": "evaluation", **tags}
    with mlflow.start_run(
        experiment_id=exp_id, run_name=run_name, nested=active is not None, tags=all_tags
    ) as run:
        run_id = run.info.run_id
        mlflow.log_params(flatten_params(params))
        mlflow.log_metrics(_clean_metrics(metrics))
        now = int(time.time() * 1000)
        steps = np.arange(101)
        step_metrics = [
            Metric("curve_quality", float(q), now, int(s))
            for s, q in zip(steps, curve.quality_at(steps / 100.0), strict=True)
        ]
        if oracle_curve is not None:
            step_metrics += [
                Metric("oracle_curve_quality", float(q), now, int(s))
                for s, q in zip(steps, oracle_curve.quality_at(steps / 100.0), strict=True)
            ]
        for i in range(0, len(step_metrics), 1000):
            client.log_batch(run_id, metrics=step_metrics[i : i + 1000])
        mlflow.log_text(curve_table(curve).to_csv(index=False), "curve.csv")
        if oracle_curve is not None:
            mlflow.log_text(curve_table(oracle_curve).to_csv(index=False), "oracle_curve.csv")
        if benchmark is not None:
            mlflow.log_dict(dict(sorted(benchmark.source_sha256.items())), "data_sha256.json")
        fig = plot_curve(
            curve, oracle=oracle_curve, title=title or run_name,
            label=all_tags.get(f"{TAG_PREFIX}system", "router"),
        )
        mlflow.log_figure(fig, "curve.png")
    return run_id


def curve_table(curve: Curve) -> Any:
    """The curve as a DataFrame: strong_share, strong_calls, quality, threshold."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "strong_share": curve.share,
            "strong_calls": np.rint(curve.share * curve.n).astype(int),
            "quality": curve.quality,
            "threshold": curve.threshold,
        }
    )


def find_runs(
    experiment: str = DEFAULT_EXPERIMENT,
    filter: str | Mapping[str, str] | None = None,
    *,
    order_by: list[str] | None = None,
) -> list[Run]:
    """Finished and running runs of ``experiment`` matching ``filter``, newest first.

    ``filter`` is an MLflow filter string (``"tags.`routerlab.benchmark` = 'gsm8k'"``) or a
    mapping of tag → value (all must match). An unknown experiment gives no runs.
    """
    client = _setup()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    if isinstance(filter, Mapping):
        filter_string = " and ".join(
            f"tags.`{k}` = '{str(v).replace(chr(39), chr(92) + chr(39))}'"
            for k, v in filter.items()
        )
    else:
        filter_string = filter or ""
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = client.search_runs(
            [exp.experiment_id],
            filter_string=filter_string,
            max_results=1000,
            order_by=order_by or ["attributes.start_time DESC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs
