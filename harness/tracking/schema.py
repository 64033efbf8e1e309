"""Every name routerlab writes to MLflow: tag prefix, tags, metric names and units, run names.

Units (also written into each evaluation run's description, so the MLflow UI shows them):

* ``quality_weak``, ``quality_strong``, ``quality_oracle`` and the step metric
  ``curve_quality`` (step = % of prompts sent to the strong model, 0, 5, ..., 100) are in the
  benchmark's own scale, named by the tag ``routerlab.quality_unit``: ``accuracy (0-1)`` for
  GSM8K, MMLU and other right/wrong benchmarks, ``judge score (1-10)`` for MT-Bench.
* ``cpt_<p>``, ``cpt_<p>_lo``, ``cpt_<p>_hi``, ``oracle_cpt_<p>``: call-performance
  threshold, in % of prompts sent to the strong model (``_lo``/``_hi``: 95 % bootstrap CI).
* ``apgr``, ``apgr_lo``, ``apgr_hi``, ``oracle_apgr``, ``auc``: unitless, 0-1.
* ``usd_*``: US dollars over the whole benchmark; ``router_usd_per_1m``: USD per million
  routing decisions; ``router_ms_per_query``: milliseconds; ``*_seconds``: seconds.
* ``n_*``: counts (prompts, training records, points on the curve).

Every fact is logged once: the prompt count and bootstrap size are params (``n_prompts``,
``n_boot``), not metrics too.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

TAG_PREFIX = "routerlab."
DEFAULT_EXPERIMENT = "routerlab"
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own tag: the UI shows it
DESCRIPTION_TAG = "mlflow.note.content"  # MLflow's run description


def tag(name: str) -> str:
    """The full MLflow tag name of a routerlab tag (``study`` → ``routerlab.study``)."""
    return f"{TAG_PREFIX}{name}"


# Tags every reader relies on.
KIND = tag("kind")  # evaluation | parent | judge | tuning | trial | tuned_test
STUDY = tag("study")
KEY = tag("key")
CONFIG_KEY = tag("config_key")
SYSTEM = tag("system")
ROUTER = tag("router")
LABEL_SOURCE = tag("label_source")
BENCHMARK = tag("benchmark")
TRAIN_FRACTION = tag("train_fraction")
SEED = tag("seed")
PROTOCOL = tag("protocol")  # transfer | cross-fit | leave-one-benchmark-out (harness.protocols)
# What a trained router read (harness.prompt_features): embedding | embedding+stats.
FEATURES = tag("features")
GRID = tag("grid")
COMPLETE = tag("complete")  # "1", written last: a run without it is redone
QUALITY_UNIT = tag("quality_unit")
# The task a benchmark's prompts come from ("gsm8k" for gsm8k and gsm8k_qwen): readers that
# compare with a published table (the report's paper columns) match on it, never on names.
TASK = tag("task")
GIT_DIRTY = tag("git_dirty")

# summarize()'s keys → their MLflow names; None: not logged as a metric (it is a param).
METRIC_NAMES: dict[str, str | None] = {
    "weak": "quality_weak",
    "strong": "quality_strong",
    "oracle": "quality_oracle",
    "n": None,
    "n_boot": None,
}
# Names earlier releases wrote; readers map them to today's so old stores still report.
LEGACY_METRICS: dict[str, str] = {
    "weak": "quality_weak",
    "strong": "quality_strong",
    "oracle": "quality_oracle",
    "train_size": "n_train",
}
CURVE_STEP_METRIC = "curve_quality"
CURVE_TABLE = "curve_table.json"  # mlflow.load_table(CURVE_TABLE, extra_columns=["run_id"])


def mlflow_metrics(summary: Mapping[str, float]) -> dict[str, float]:
    """A metrics dict under its MLflow names (see :data:`METRIC_NAMES`); NaN/inf dropped."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = METRIC_NAMES.get(key, key)
        if name is None or value is None:
            continue
        number = float(value)
        if np.isfinite(number):
            out[name] = number
    return out


def quality_unit(weak: np.ndarray, strong: np.ndarray, declared: object = None) -> str:
    """The unit of a benchmark's outcomes: accuracy (0-1) or a judge score (1-10)."""
    if declared:
        return str(declared)
    both = np.concatenate([np.asarray(weak, dtype=float), np.asarray(strong, dtype=float)])
    if np.isin(both, (0.0, 1.0)).all():
        return "accuracy (0-1)"
    if both.size and both.min() >= 1.0 and both.max() <= 10.0:
        return "judge score (1-10)"
    return "score"


def describe_units(unit: str) -> str:
    """The run description (Markdown in the MLflow UI): what each metric is measured in."""
    return (
        f"`quality_*`, `curve_quality`: {unit}. "
        "`cpt_*`: % of prompts sent to the strong model (`_lo`/`_hi`: 95% bootstrap CI). "
        "`apgr`, `auc`: 0-1. `usd_*`: US dollars over the benchmark; `router_usd_per_1m`: USD "
        "per million routing decisions; `*_seconds`: seconds. The curve and the oracle's: the "
        "artifact `curve_table.json` (`MlflowClient.load_table`); every point in "
        "`curve.csv` / `oracle_curve.csv`."
    )


def run_name(*parts: object, **labelled: object) -> str:
    """A readable run name from its non-empty parts, ``·``-separated.

    ``run_name("paper", "Confidence", "se×knn", "gsm8k", train=0.5, seed=0)`` →
    ``paper · Confidence · se×knn · gsm8k · train 50% · seed 0``.
    """
    out = [str(p) for p in parts if p not in (None, "")]
    for label, value in labelled.items():
        if value in (None, ""):
            continue
        if label == "train" and isinstance(value, float):
            out.append(f"train {100 * value:g}%")
        else:
            out.append(f"{label} {value}")
    return " · ".join(out)
