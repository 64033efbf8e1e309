"""Writing runs: open a run before the work, buffer params/metrics/tags, write them in batches.

:func:`open_run` starts a run (a child of the active run if there is one) with its name,
tags, the git commit (``mlflow.source.git.commit``) and ``routerlab.git_dirty``, and yields
a :class:`RunWriter`. Everything logged through the writer is buffered and written with
``MlflowClient.log_batch`` (MLflow's limits: 1000 metrics, 100 params, 100 tags a call) when
the block ends or on :meth:`RunWriter.flush`, so a study's ~150 values per run cost a few
calls, not hundreds. The run's duration is that of the block: open it before the work.

:func:`log_evaluation` writes what an evaluation run holds: params (flattened, secrets
dropped, credentials inside URLs masked), the metrics of :func:`harness.metrics.summarize`
under their MLflow names (:mod:`harness.tracking.schema`), the curve as step metrics and as
the table ``curve_table.json`` (``mlflow.load_table`` joins it across runs; at most 1,001
evenly spaced points per curve), every point in ``curve.csv`` /
``oracle_curve.csv``, ``curve.png``, ``data_sha256.json``, and the benchmark (and, when
given, the label set) as MLflow dataset inputs: digests and outcomes, no prompt text.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from harness.data import data_fingerprint
from harness.redaction import redact_text
from harness.tracking import schema
from harness.tracking.store import _setup, experiment_id, git_state
from harness.training_data import prompt_sha256

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from harness.metrics import Curve
    from harness.records import Benchmark, LabelSet

SECRET_WORDS = ("key", "token", "secret", "password")
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value
# Param names that contain a secret word but hold none (a combination's hash).
NOT_SECRET = frozenset({"key", "config_key"})

# MLflow dataset entities by (name, digest), built once per process (RunWriter.dataset).
_DATASET_ENTITIES: dict[tuple[str, str], Any] = {}


def is_secret(key: str) -> bool:
    low = key.lower()
    return low not in NOT_SECRET and any(word in low for word in SECRET_WORDS)


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
        out[full] = redact_text(text)[:MAX_PARAM_CHARS]  # no credentials inside URLs
    return out


class RunWriter:
    """Buffered writes into one run; :meth:`flush` sends them with ``log_batch``."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._params: dict[str, str] = {}
        self._logged_params: dict[str, str] = {}
        self._metrics: list[Any] = []
        self._tags: dict[str, str] = {}
        self._inputs: list[Any] = []
        self._tables: list[dict[str, str]] = []

    def params(self, params: Mapping[str, Any]) -> None:
        """Flattened params, secrets dropped; a param already logged keeps its first value
        (MLflow refuses to change one)."""
        for key, value in flatten_params(params).items():
            if key not in self._logged_params:
                self._params.setdefault(key, value)

    def metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._metrics += [
            Metric(k, float(v), now, step) for k, v in schema.mlflow_metrics(metrics).items()
        ]

    def step_metric(self, name: str, values: Mapping[int, float]) -> None:
        """One metric at several steps (a curve)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._metrics += [Metric(name, float(v), now, int(s)) for s, v in values.items()]

    def tags(self, tags: Mapping[str, str]) -> None:
        self._tags.update({k: str(v) for k, v in tags.items()})

    def flush(self) -> None:
        from mlflow.entities import Param, RunTag

        inputs, self._inputs = self._inputs, []  # a failed call is not sent twice
        if inputs:
            self._log_inputs(inputs)
        params = [Param(k, v) for k, v in self._params.items()]
        tags = [RunTag(k, v) for k, v in self._tags.items()]
        metrics = self._metrics
        # MLflow takes 1000 metrics / 100 params / 100 tags per batch. Tags go last, in
        # the order given: a run's ``routerlab.complete`` tag is never stored before the
        # metrics it vouches for.
        while len(metrics) > 1000 or len(params) > 100:
            self.client.log_batch(self.run_id, metrics=metrics[:1000], params=params[:100])
            metrics, params = metrics[1000:], params[100:]
        while metrics or params or tags:
            self.client.log_batch(self.run_id, metrics=metrics, params=params, tags=tags[:100])
            metrics, params, tags = [], [], tags[100:]
        self._logged_params.update(self._params)
        self._params, self._metrics, self._tags = {}, [], {}

    def text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def csv(self, frame: Any, artifact_file: str) -> None:
        """A data frame as a CSV artifact (no index column).

        Written by Arrow's C++ CSV writer: about 4x faster than ``DataFrame.to_csv`` on
        MMLU's 14k rows, which a study writes three times per run. Floats keep every digit
        (they read back equal); text values are quoted, numbers and the header are not.
        """
        import pyarrow as pa
        from pyarrow import csv as pa_csv

        table = pa.Table.from_pandas(frame, preserve_index=False)
        has_text = any(pa.types.is_string(t) or pa.types.is_large_string(t)
                       for t in table.schema.types)
        options = pa_csv.WriteOptions(
            include_header=False, quoting_style="needed" if has_text else "none"
        )
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(table, sink, options)
        header = ",".join(
            '"' + c.replace('"', '""') + '"' if "," in c or '"' in c else c
            for c in table.column_names
        )
        self.text(header + "\n" + sink.getvalue().to_pybytes().decode(), artifact_file)

    def table(self, frame: Any, artifact_file: str) -> None:
        """A new table artifact (``.json``) that ``mlflow.load_table`` finds across runs.

        Written the way MLflow's ``log_table`` writes a new table (pandas "split" JSON, and
        the run's ``mlflow.loggedArtifacts`` tag naming it, sent with the next flush). Not
        ``log_table`` itself: per call it reads the run back, lists its artifacts and commits
        the tag on its own, an eighth of a study's time. Unlike it, this does not append to
        a table already in the run: each file is written once.
        """
        from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS

        if not artifact_file.endswith(".json"):
            raise ValueError(f"table artifact {artifact_file!r}: the name must end in .json")
        entry = {"path": artifact_file, "type": "table"}
        if entry in self._tables:
            raise ValueError(f"table {artifact_file!r} was already written to this run")
        self.text(frame.to_json(orient="split", index=False, date_format="iso"), artifact_file)
        self._tables.append(entry)
        self._tags[MLFLOW_LOGGED_ARTIFACTS] = json.dumps(self._tables)

    def figure(self, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def dataset(self, frame: Any, *, name: str, context: str, digest: str) -> None:
        """A dataset input (MLflow's Dataset column), logged at the next :meth:`flush`:
        ``frame`` holds no prompt text."""
        from mlflow.data.pandas_dataset import from_pandas
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        key = (name, digest[:36])
        entity = _DATASET_ENTITIES.get(key)
        if entity is None:
            # Building the entity profiles and hashes the frame: once per dataset, not per
            # run (a study logs the same benchmark and label set on dozens of runs).
            entity = from_pandas(frame, name=name, digest=digest[:36])._to_mlflow_entity()
            _DATASET_ENTITIES[key] = entity
        # Sent with the next flush: one call for all of a run's datasets.
        self._inputs.append(DatasetInput(entity, [InputTag(MLFLOW_DATASET_CONTEXT, context)]))

    def _log_inputs(self, inputs: list[Any]) -> None:
        for attempt in range(3):
            try:
                self.client.log_inputs(self.run_id, datasets=inputs)
                return
            except Exception as exc:  # MlflowException wrapping the database's error
                # Two workers logging a dataset new to the experiment at the same moment:
                # MLflow looks it up, then inserts, and the slower insert hits the unique
                # key. Asked again, MLflow finds the row the other worker wrote.
                text = str(exc)
                duplicate = "dataset_pk" in text or "UNIQUE constraint failed: datasets" in text
                if not duplicate or attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))


@contextmanager
def open_run(
    name: str,
    tags: Mapping[str, str],
    *,
    experiment: str = schema.DEFAULT_EXPERIMENT,
    description: str | None = None,
) -> Iterator[RunWriter]:
    """Start a run (child of the active one if any); buffered writes flush at the end.

    A block that raises ends the run as FAILED (after flushing what it logged)."""
    import mlflow

    client = _setup()
    active = mlflow.active_run()
    exp_id = active.info.experiment_id if active is not None else experiment_id(experiment, client)
    all_tags = dict(tags)
    state = git_state()
    if state is not None:
        all_tags[schema.GIT_COMMIT_TAG] = state[0]
        all_tags[schema.GIT_DIRTY] = str(int(state[1]))
    if description:
        all_tags[schema.DESCRIPTION_TAG] = description
    with mlflow.start_run(
        experiment_id=exp_id, run_name=name, nested=active is not None, tags=all_tags
    ) as run:
        writer = RunWriter(client, run.info.run_id)
        try:
            yield writer
        finally:
            writer.flush()


@contextmanager
def parent_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    experiment: str = schema.DEFAULT_EXPERIMENT,
    tags: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Open a parent run; evaluations logged inside become its children. Yields the run id."""
    with open_run(name, {schema.KIND: "parent", **(tags or {})}, experiment=experiment) as run:
        if params:
            run.params(params)
            run.flush()
        yield run.run_id


def new_parent_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    experiment: str = schema.DEFAULT_EXPERIMENT,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Create a parent run without making it active (workers of one study agree on one
    before any uses it; see ``studies.claims``). Returns its id."""
    client = _setup()
    run = client.create_run(
        experiment_id(experiment, client),
        run_name=name,
        tags={schema.KIND: "parent", **(tags or {})},
    )
    if params:
        writer = RunWriter(client, run.info.run_id)
        writer.params(params)
        writer.flush()
    return str(run.info.run_id)


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


#: Most rows per curve in ``curve_table.json`` (curve.csv keeps every point).
TABLE_POINTS = 1001


def thinned_curve_table(curve: Curve, points: int = TABLE_POINTS) -> Any:
    """:func:`curve_table` at most ``points`` rows: the curve's own points nearest to evenly
    spaced strong-call shares 0, 1/(points−1), ..., 1 (both ends kept). An exact MMLU curve
    has 13,000+ points; the cross-run table (one JSON per run) needs a plot's worth."""
    import numpy as np

    table = curve_table(curve)
    if len(table) <= points:
        return table
    share = table["strong_share"].to_numpy()
    idx = np.unique(np.searchsorted(share, np.linspace(0.0, 1.0, points), side="left"))
    return table.iloc[np.clip(idx, 0, len(table) - 1)].drop_duplicates().reset_index(drop=True)


def benchmark_dataset(benchmark: Benchmark) -> tuple[Any, str]:
    """The benchmark as a dataset input: prompt ids and outcomes (no text), and its digest."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "prompt_id": benchmark.prompt_ids,
            "weak_score": benchmark.weak_score,
            "strong_score": benchmark.strong_score,
        }
    )
    ids = hashlib.sha256("\n".join(benchmark.prompt_ids).encode()).hexdigest()
    digest = hashlib.sha256(
        (data_fingerprint(benchmark.source_sha256) + ids).encode()
    ).hexdigest()
    return frame, digest


def labels_dataset(labels: LabelSet) -> tuple[Any, str]:
    """A label set as a dataset input: prompt sha256, models and winner (no prompt text)."""
    import pandas as pd

    records = labels.records
    frame = pd.DataFrame(
        {"prompt_sha256": [prompt_sha256(str(p)) for p in records["prompt"]]}
        | {c: records[c].astype(str).to_numpy() for c in ("model_a", "model_b", "winner")
           if c in records.columns}
    )
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    ).hexdigest()
    return frame, digest


def log_evaluation(
    run: RunWriter,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    curve: Curve,
    oracle_curve: Curve | None = None,
    benchmark: Benchmark | None = None,
    labels: LabelSet | None = None,
    title: str = "",
    label: str = "router",
    table_columns: Mapping[str, Any] | None = None,
    figure: bool = True,
) -> None:
    """Write an evaluation's params, metrics, curve, artifacts and dataset inputs to ``run``.

    ``figure=False`` skips the per-run ``curve.png`` (a study renders its figures once, in
    the report; matplotlib per run cost a third of a study's MLflow time).

    ``table_columns`` are constant columns added to the curve table (system, benchmark ...),
    so ``mlflow.load_table`` over many runs gives one frame that says which row is which.
    """
    import numpy as np
    import pandas as pd

    from harness.plotting import plot_curve

    run.params(params)
    run.metrics(metrics)
    # Step = % of prompts sent to the strong model, every 5 %: the MLflow UI draws the curve
    # from 21 rows per run (every 1 % wrote five times the rows, a fifth of a study's MLflow
    # time); the curve itself is in curve_table.json and curve.csv.
    steps = np.arange(0, 101, 5)
    run.step_metric(
        schema.CURVE_STEP_METRIC,
        dict(zip(steps.tolist(), curve.quality_at(steps / 100.0), strict=True)),
    )
    frames = [thinned_curve_table(curve).assign(curve="router")]
    if oracle_curve is not None:
        # The oracle's curve is the same on every run of a benchmark: in the table and
        # oracle_curve.csv, not as 101 more metric rows per run (a third of a study's
        # MLflow writes).
        frames.append(thinned_curve_table(oracle_curve).assign(curve="oracle"))
    # No flush here: params and metrics go with the caller's next flush (at the latest when
    # the run closes), one database transaction per run instead of one per step.
    table = pd.concat(frames, ignore_index=True)
    for column, value in (table_columns or {}).items():
        table[column] = value
    run.table(table, schema.CURVE_TABLE)
    run.csv(curve_table(curve), "curve.csv")
    if oracle_curve is not None:
        run.csv(curve_table(oracle_curve), "oracle_curve.csv")
    if benchmark is not None:
        run.text(json.dumps(dict(sorted(benchmark.source_sha256.items())), indent=2),
                 "data_sha256.json")
        frame, digest = benchmark_dataset(benchmark)
        run.dataset(frame, name=benchmark.name, context="evaluation", digest=digest)
    if labels is not None:
        frame, digest = labels_dataset(labels)
        run.dataset(frame, name=f"{labels.source}-labels", context="training", digest=digest)
    if figure:
        fig = plot_curve(curve, oracle=oracle_curve, title=title, label=label)
        run.figure(fig, "curve.png")
