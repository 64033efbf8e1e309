"""Reading runs back: single runs by tag (:func:`find_runs`), a study as one flat table
(:func:`load_runs`), and run artifacts (:func:`load_text`). Reports and judging read here."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.tracking import schema
from harness.tracking.store import _setup

if TYPE_CHECKING:
    from mlflow.entities import Run

# ``routerlab.kind`` says what a run is; evaluation runs of early releases lack it.
KINDS = ("evaluation", "parent", "judge", "tuning", "trial", "tuned_test")


def _tag_filter(tags: Mapping[str, str]) -> str:
    return " and ".join(
        f"tags.`{k}` = '{str(v).replace(chr(39), chr(92) + chr(39))}'" for k, v in tags.items()
    )


def find_runs(
    experiment: str = schema.DEFAULT_EXPERIMENT,
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
    filter_string = _tag_filter(filter) if isinstance(filter, Mapping) else filter or ""
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


def load_runs(study: str | None = None, *, experiment: str | None = None) -> pd.DataFrame:
    """All finished runs of ``study`` (all studies when None) as a flat table.

    Columns: ``run_id``, ``parent_run_id``, ``start_time``, one column per ``routerlab.*`` tag
    without the prefix (``study``, ``system``, ``router``, ``label_source``, ``benchmark``,
    ``key``, ``kind`` ...), and every metric under its own name. Params are kept as
    ``param.<name>``.
    """
    import mlflow

    client = _setup()
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        experiments = [found] if found is not None else []
    else:
        experiments = client.search_experiments()
    ids = [e.experiment_id for e in experiments if e is not None]
    if not ids:
        return normalize_runs(pd.DataFrame())
    filt = "attributes.status = 'FINISHED'"
    if study is not None:
        filt += " and " + _tag_filter({schema.STUDY: study})
    raw = mlflow.search_runs(experiment_ids=ids, filter_string=filt, output_format="pandas")
    assert isinstance(raw, pd.DataFrame)
    return normalize_runs(raw)


def normalize_runs(raw: pd.DataFrame) -> pd.DataFrame:
    """MLflow's ``search_runs`` frame → one column per routerlab tag, metric and param."""
    out: dict[str, Any] = {}
    n = len(raw)
    out["run_id"] = raw["run_id"] if "run_id" in raw else pd.Series([], dtype=str)
    out["start_time"] = raw["start_time"] if "start_time" in raw else pd.Series([None] * n)
    parent = "tags.mlflow.parentRunId"
    out["parent_run_id"] = raw[parent] if parent in raw else pd.Series([None] * n)
    prefix = "tags." + schema.TAG_PREFIX
    for col in raw.columns:
        if col.startswith(prefix):
            out[col[len(prefix) :]] = raw[col]
        elif col.startswith("metrics."):
            out[col[len("metrics.") :]] = raw[col]
        elif col.startswith("params."):
            out["param." + col[len("params.") :]] = raw[col]
    df = pd.DataFrame(out)
    for old, new in schema.LEGACY_METRICS.items():
        if old in df:
            df[new] = df[new].fillna(df[old]) if new in df else df[old]
            df = df.drop(columns=old)
    for col in ("study", "system", "router", "label_source", "benchmark", "key", "kind"):
        if col not in df:
            df[col] = None
    df["kind"] = df["kind"].fillna("evaluation")
    # A label-free router (random) has no label source; keep a printable value.
    df["label_source"] = df["label_source"].replace({"": None})
    if "train_fraction" in df:
        df["train_fraction"] = pd.to_numeric(df["train_fraction"], errors="coerce").fillna(1.0)
    else:
        df["train_fraction"] = 1.0
    return df.reset_index(drop=True)


def load_text(run_id: str, artifact_file: str) -> str:
    """The text of one run artifact."""
    import mlflow

    _setup()
    # One artifact per call: MLflow's per-download progress bar would only be noise here.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return str(mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact_file}"))


def load_csv(run_id: str, artifact_file: str, **read_csv: Any) -> pd.DataFrame:
    """A CSV artifact of a run as a DataFrame."""
    frame: pd.DataFrame = pd.read_csv(io.StringIO(load_text(run_id, artifact_file)), **read_csv)
    return frame


def load_curve_tables(
    run_ids: list[str] | None = None, experiment: str = schema.DEFAULT_EXPERIMENT
) -> pd.DataFrame:
    """The curve tables of many runs in one frame (a ``run_id`` column says whose)."""
    client = _setup()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return pd.DataFrame()
    return client.load_table(
        exp.experiment_id, schema.CURVE_TABLE, run_ids=run_ids, extra_columns=["run_id"]
    )
