"""MLflow tracking: the one place routerlab writes and reads runs.

* :mod:`~harness.tracking.schema` — every name: tag prefix and tags, metric names and their
  units, run names;
* :mod:`~harness.tracking.store` — the tracking URI, experiments, artifacts relative to
  ``ROUTERLAB_HOME`` (the ``routerlab-home:`` scheme), the git commit;
* :mod:`~harness.tracking.writer` — :func:`open_run` (open before the work, batched writes),
  :func:`parent_run`, :func:`log_evaluation` (params, metrics, curve table, dataset inputs);
* :mod:`~harness.tracking.reader` — :func:`find_runs`, :func:`load_runs` (a study as one flat
  table), artifacts.

An evaluation run holds: a readable unique name (:func:`schema.run_name`); tags
``routerlab.kind``, ``routerlab.system``, ``routerlab.router``, ``routerlab.label_source``,
``routerlab.benchmark``, ``routerlab.grid``, ``routerlab.quality_unit`` (studies add
``routerlab.study``, ``routerlab.key``, ``routerlab.config_key``, ``routerlab.train_fraction``,
``routerlab.seed``, ``routerlab.complete``), ``mlflow.source.git.commit`` and a description
that states the metric units; params: every resolved hyper-parameter of the router
(``router_params.*``) and label source (``label_params.*``), defaults included, the data
fingerprint and the run's settings, secrets dropped; metrics as :mod:`schema` documents;
dataset inputs: the benchmark (context ``evaluation``) and the label set (``training``).
"""

from harness.tracking.reader import find_runs, load_csv, load_curve_tables, load_runs, load_text
from harness.tracking.schema import DEFAULT_EXPERIMENT, TAG_PREFIX, run_name, tag
from harness.tracking.store import (
    _artifact_location,
    _setup,
    client,
    display_uri,
    experiment_id,
    open_store,
    tracking_uri,
)
from harness.tracking.writer import (
    RunWriter,
    curve_table,
    flatten_params,
    is_secret,
    log_evaluation,
    new_parent_run,
    open_run,
    parent_run,
)

__all__ = [
    "DEFAULT_EXPERIMENT",
    "TAG_PREFIX",
    "RunWriter",
    "_artifact_location",
    "_setup",
    "client",
    "curve_table",
    "display_uri",
    "experiment_id",
    "find_runs",
    "flatten_params",
    "is_secret",
    "load_csv",
    "load_curve_tables",
    "load_runs",
    "load_text",
    "log_evaluation",
    "new_parent_run",
    "open_run",
    "open_store",
    "parent_run",
    "run_name",
    "tag",
    "tracking_uri",
]
