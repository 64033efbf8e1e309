"""Reading a study's tracked runs out of MLflow into one flat table.

Every number in a report comes from here: the evaluation runs logged by
:func:`harness.evaluation.evaluate_scores` (tags ``routerlab.study``, ``routerlab.system``,
``routerlab.router``, ``routerlab.label_source``, ``routerlab.benchmark``,
``routerlab.key``), the judge runs and the tuning runs logged by the study runner.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TAG = "routerlab."
# The tag ``routerlab.kind`` says what a run is; evaluation runs may lack it (then "evaluation").
KINDS = ("evaluation", "judge", "tuning", "trial", "study")


def load_runs(study: str | None = None, *, experiment: str | None = None) -> pd.DataFrame:
    """All finished runs of ``study`` (all studies when None) as a flat table.

    Columns: ``run_id``, ``parent_run_id``, ``start_time``, one column per ``routerlab.*`` tag
    without the prefix (``study``, ``system``, ``router``, ``label_source``, ``benchmark``,
    ``key``, ``kind`` ...), and every metric under its own name. Params are kept as
    ``param.<name>``.
    """
    import mlflow

    from harness.paths import mlflow_tracking_uri

    mlflow.set_tracking_uri(mlflow_tracking_uri())
    client = mlflow.MlflowClient()
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
        filt += f" and tags.`routerlab.study` = '{study}'"
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
    for col in raw.columns:
        if col.startswith("tags." + TAG):
            out[col[len("tags." + TAG) :]] = raw[col]
        elif col.startswith("metrics."):
            out[col[len("metrics.") :]] = raw[col]
        elif col.startswith("params."):
            out["param." + col[len("params.") :]] = raw[col]
    df = pd.DataFrame(out)
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


def latest_per_key(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per combination (the most recent), so reruns never double-count.

    Runs are grouped by ``config_key`` where the runner logged one (the combination without
    its data fingerprint: a run on a rebuilt benchmark file supersedes the one on the old
    file), else by ``key``.
    """
    if runs.empty or "key" not in runs:
        return runs
    group = runs["key"]
    if "config_key" in runs:
        group = runs["config_key"].fillna(runs["key"])
    keyed = runs[group.notna()].assign(_group=group[group.notna()])
    unkeyed = runs[group.isna()]
    keyed = keyed.sort_values("start_time").groupby("_group", as_index=False).tail(1)
    return pd.concat([keyed.drop(columns="_group"), unkeyed]).reset_index(drop=True)
