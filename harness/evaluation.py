"""Evaluate a router's scores on a benchmark: metrics, curves, and an MLflow run.

:func:`evaluate_scores` is the one entry point every caller (CLI, studies) goes through;
:func:`evaluate` scores a system first, through :func:`harness.systems.score_system` (the one
function from a system to its scores; the pseudo-routers ``random``, ``oracle`` and
``scores`` live there too). Named systems (label source + router) sit a layer above, in
:mod:`baselines` (``baselines.system_scores``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import metrics as M
from harness import tracking
from harness.data import data_fingerprint
from harness.errors import ConfigError, DataError
from harness.prompt_features import EMBEDDING
from harness.protocols import (
    benchmark_ref,
    check_protocol,
)
from harness.records import Benchmark, LabelSet
from harness.systems import (  # re-exported: the evaluate-time API
    PSEUDO_ROUTERS,
    RoutedScores,
    SystemSpec,
    read_scores_file,
    routed_from_scored,
    score_system,
)
from harness.tracking import DEFAULT_EXPERIMENT, schema

__all__ = [
    "PSEUDO_ROUTERS", "EvaluationResult", "RoutedScores", "SystemSpec", "evaluate",
    "evaluate_scores", "read_scores_file", "routed_from_scored", "score_system",
]


@dataclass
class EvaluationResult:
    """What one evaluation produced.

    Attributes:
        benchmark: the benchmark evaluated (after any decontamination by the pipeline).
        system: the system's name (tag ``routerlab.system``).
        scores: the router's score per prompt.
        metrics: :func:`harness.metrics.summarize`'s flat dict.
        curve / oracle_curve: the router's and the oracle's call–performance curves.
        params: the params logged (before flattening).
        run_id: the MLflow run id, or None when not logged.
    """

    benchmark: Benchmark
    system: str
    scores: np.ndarray
    metrics: dict[str, float]
    curve: M.Curve
    oracle_curve: M.Curve
    params: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (NaN as None)."""
        out: dict[str, Any] = {
            "benchmark": self.benchmark.name,
            "system": self.system,
            "weak_model": self.benchmark.weak_model,
            "strong_model": self.benchmark.strong_model,
            "mlflow_run_id": self.run_id,
        }
        for key in ("protocol", "label_source", "train_benchmarks", "fold_seed"):
            if key in self.params:
                out[key] = self.params[key]
        # How many prompts left the evaluation before scoring, and why (never silent).
        out["dropped_contaminated_list"] = int(self.benchmark.dropped_contaminated)
        out["dropped_similar_to_training"] = int(self.params.get("dropped_similar_to_training", 0))
        missing = self.benchmark.meta.get("dropped_missing_outcomes", 0)
        out["dropped_missing_outcomes"] = int(missing)
        for key, value in self.metrics.items():
            if math.isnan(value):
                out[key] = None
            else:
                out[key] = int(value) if key in ("n", "n_points", "n_boot") else value
        return out


def evaluate_scores(
    benchmark: Benchmark,
    scores: Sequence[float] | np.ndarray,
    *,
    system: str,
    params: Mapping[str, Any],
    seed: int,
    extra_tags: Mapping[str, str] | None = None,
    log_to_mlflow: bool = True,
    grid: M.Grid = "exact",
    n_boot: int = 1000,
    pcts: Sequence[float] = M.DEFAULT_PCTS,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    progress: bool = False,
    run: tracking.RunWriter | None = None,
    labels: LabelSet | None = None,
    figure: bool = True,
) -> EvaluationResult:
    """Metrics, curves and (unless ``log_to_mlflow=False``) an MLflow run for ``scores``.

    Args:
        benchmark: the benchmark the scores belong to (same order).
        scores: one score per prompt; higher sends to the strong model.
        system: name of the routing system (tag ``routerlab.system``).
        params: what produced the scores. Recognised keys (all optional): ``router``,
            ``router_params`` (dict), ``label_source``, ``label_params`` (dict); anything
            else is logged as is. Secrets are never logged (see :mod:`harness.tracking`).
        seed: seeds the bootstrap (and is logged).
        extra_tags: more MLflow tags (studies: ``routerlab.study``, ``routerlab.key``).
        log_to_mlflow: write the run; it becomes a child of the active run if one is open.
        grid / n_boot / pcts: see :func:`harness.metrics.summarize`.
        experiment / run_name: where the run goes and what it is called.
        progress: show a progress bar on the bootstrap.
        run: an open run to log into (the caller opened it before the work, so its duration
            is true); else a run is opened here when ``log_to_mlflow``.
        labels: the label set the router was trained on, logged as a dataset input.
        figure: log the per-run ``curve.png`` (studies render figures once, in the report).
    """
    s = np.asarray(scores, dtype=float)
    if s.shape != (len(benchmark),):
        raise ValueError(
            f"{len(s)} scores for {len(benchmark)} prompts of {benchmark.name!r}"
        )
    if not np.isfinite(s).all():
        raise ValueError(f"scores for {benchmark.name!r} contain NaN or inf")
    metrics = M.summarize(
        s, benchmark, grid=grid, seed=seed, n_boot=n_boot, pcts=pcts, progress=progress
    )
    curve = M.call_performance_curve(s, benchmark.weak_score, benchmark.strong_score, grid=grid)
    oracle_curve = M.call_performance_curve(
        M.oracle_scores(benchmark.weak_score, benchmark.strong_score),
        benchmark.weak_score,
        benchmark.strong_score,
    )
    all_params: dict[str, Any] = {
        "system": system,
        **dict(params),
        "benchmark": benchmark.name,
        "n_prompts": len(benchmark),
        "weak_model": benchmark.weak_model,
        "strong_model": benchmark.strong_model,
        "dropped_contaminated": benchmark.dropped_contaminated,
        "seed": seed,
        "grid": grid,
        "n_boot": n_boot,
        "data_sha256": data_fingerprint(benchmark.source_sha256),
    }
    if benchmark_ref(benchmark) != benchmark.name:  # a custom file: where to reload it from
        all_params["benchmark_file"] = benchmark_ref(benchmark)
    if len(benchmark.source_sha256) <= 10:
        for name, digest in sorted(benchmark.source_sha256.items()):
            all_params[f"data_sha256.{Path(name).name}"] = digest
    result = EvaluationResult(
        benchmark=benchmark,
        system=system,
        scores=s,
        metrics=metrics,
        curve=curve,
        oracle_curve=oracle_curve,
        params=all_params,
    )
    if run is not None:
        log_result(run, result, extra_tags=extra_tags, labels=labels, grid=grid, figure=figure)
    elif log_to_mlflow:
        name = run_name or tracking.run_name(
            system, params.get("label_source"), params.get("router"), benchmark.name
        )
        with tracking.open_run(name, evaluation_tags(system, params, grid),
                               experiment=experiment) as new_run:
            log_result(new_run, result, extra_tags=extra_tags, labels=labels, grid=grid,
                       figure=figure)
        result.run_id = new_run.run_id
    return result


def evaluation_tags(
    system: str, params: Mapping[str, Any], grid: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags of an evaluation run (known before the work starts)."""
    return {
        schema.KIND: "evaluation",
        schema.SYSTEM: system,
        schema.ROUTER: str(params.get("router", system)),
        schema.LABEL_SOURCE: str(params.get("label_source") or "none"),
        schema.GRID: grid,
        schema.PROTOCOL: str(params.get("protocol") or "transfer"),
        **({schema.FEATURES: str(params["features"])} if "features" in params else {}),
        **(extra or {}),
    }


#: Every evaluation run's per-prompt scores (prompt_id, score): paired comparisons
#: (``routerlab compare``, the report's marks), costs and judge tables read them.
SCORES_ARTIFACT = "scores.csv"


def log_result(
    run: tracking.RunWriter,
    result: EvaluationResult,
    *,
    extra_tags: Mapping[str, str] | None = None,
    labels: LabelSet | None = None,
    grid: str = "exact",
    figure: bool = True,
) -> None:
    """Write an :class:`EvaluationResult` into an open run (``figure``: its curve.png)."""
    benchmark = result.benchmark
    unit = schema.quality_unit(
        benchmark.weak_score, benchmark.strong_score, benchmark.meta.get("quality_unit")
    )
    run.tags({
        **evaluation_tags(result.system, result.params, grid, extra_tags),
        schema.BENCHMARK: benchmark.name,
        schema.QUALITY_UNIT: unit,
        schema.TASK: str(benchmark.meta.get("task") or benchmark.name),
        schema.DESCRIPTION_TAG: schema.describe_units(unit),
    })
    tracking.log_evaluation(
        run,
        params=result.params,
        metrics=result.metrics,
        curve=result.curve,
        oracle_curve=result.oracle_curve,
        benchmark=benchmark,
        labels=labels,
        title=f"{result.system} on {benchmark.name} (n={len(benchmark)})",
        label=result.system,
        table_columns={
            "system": result.system,
            "router": str(result.params.get("router", result.system)),
            "label_source": str(result.params.get("label_source") or "none"),
            "benchmark": benchmark.name,
        },
        figure=figure,
    )
    frame = pd.DataFrame({"prompt_id": benchmark.prompt_ids, "score": result.scores})
    run.csv(frame, SCORES_ARTIFACT)
    result.run_id = run.run_id


def load_scores(run_id: str) -> pd.DataFrame:
    """A run's ``scores.csv``: columns prompt_id (str) and score."""
    try:
        return tracking.load_csv(run_id, SCORES_ARTIFACT, dtype={"prompt_id": str})
    except Exception as exc:  # a run logged before scores were kept, or a wrong id
        raise DataError(
            f"MLflow run {run_id} has no {SCORES_ARTIFACT} ({type(exc).__name__}); rerun the "
            "evaluation with this version to compare it"
        ) from None


# -- scores from a file ----------------------------------------------------------------------


# -- one call: a router (or system) on a benchmark -----------------------------------------------


def limit_benchmark(benchmark: Benchmark, limit: int | None) -> Benchmark:
    """The first ``limit`` prompts of ``benchmark`` (all when None)."""
    if limit is None or limit >= len(benchmark):
        return benchmark
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    mask = np.zeros(len(benchmark), dtype=bool)
    mask[:limit] = True
    return benchmark.subset(mask)


def system_label(
    router: str | None, system: str | None, labels: str | None, scores_file: str | Path | None
) -> str:
    """The display name of what is evaluated (``knn+se``, ``scores:mine``, a system name)."""
    if system:
        return system
    if labels:
        return f"{router}+{labels}"
    if router == "scores" and scores_file:
        return f"scores:{Path(scores_file).stem}"
    return str(router or "random")


def _usd(
    routed: RoutedScores, full: Benchmark, metrics: Mapping[str, float], seed: int,
    data_dir: Path | None,
) -> tuple[dict[str, float], str]:
    """The cost metrics of an evaluation, or none (with the reason) for unpriced models."""
    from harness import cost

    try:
        costs = cost.costs_of(
            cost.benchmark_prompt_costs(full, data_dir), full.prompt_ids,
            routed.benchmark.prompt_ids,
        )
    except (ConfigError, DataError) as exc:
        return {}, f"no USD: {exc}"
    return cost.cost_metrics(
        costs, routed.scores, dict(metrics), seed=seed,
        seconds_per_query=cost.router_seconds_per_query(routed.info, len(routed.benchmark)),
    )


def evaluate(
    benchmark: str | Benchmark,
    router: str | None = None,
    *,
    system: str | None = None,
    scorer: Callable[[Benchmark], RoutedScores] | None = None,
    labels: str | None = None,
    router_params: Mapping[str, Any] | None = None,
    label_params: Mapping[str, Any] | None = None,
    scores_file: str | Path | None = None,
    seed: int = 0,
    grid: M.Grid = "exact",
    n_boot: int = 1000,
    limit: int | None = None,
    data_dir: Path | None = None,
    log_to_mlflow: bool = False,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    progress: bool = False,
    weak_model: str | None = None,
    strong_model: str | None = None,
    protocol: str = "transfer",
    n_folds: int | None = None,
    train_benchmarks: Sequence[str] | None = None,
    embedding_input: str = "auto",
    features: str = EMBEDDING,
    weak_column: str | None = None,
    strong_column: str | None = None,
    drop_missing: bool = False,
) -> EvaluationResult:
    """Evaluate a router (or a named system) on a benchmark: curve, CPTs with CIs, APGR, USD.

    ``router`` is ``random``, ``oracle``, ``scores`` (with ``scores_file``) or a registered
    router trained on ``labels``. Or ``scorer`` gives the scores (a named system of
    :mod:`baselines`: ``routerlab.evaluate`` passes ``baselines.system_scores``) and
    ``system`` its name.
    ``protocol`` / ``n_folds`` / ``train_benchmarks``: where a trained router's labels come
    from (:mod:`harness.protocols`; :class:`harness.systems.SystemSpec`); ``features``: what
    it reads (:mod:`harness.prompt_features`).
    ``limit`` keeps the first prompts of the benchmark. With ``log_to_mlflow`` the MLflow run
    opens before the work (its duration is the evaluation's) and holds the resolved
    parameters, the metrics and the dataset inputs. The USD metrics (``usd_*``) are in
    ``result.metrics``; ``result.params["cost_method"]`` says how tokens were counted.
    """
    from harness.benchmarks import load_benchmark
    from harness.pipeline import resolve_params
    from harness.prompt_features import check_features

    full = (
        benchmark if isinstance(benchmark, Benchmark)
        else load_benchmark(
            benchmark, data_dir, weak_model=weak_model, strong_model=strong_model,
            weak_column=weak_column, strong_column=strong_column, drop_missing=drop_missing,
        )
    )
    bench = limit_benchmark(full, limit)
    router = None if scorer is not None else (router or "random")
    name = system_label(router, system, labels, scores_file)
    params: dict[str, Any] = {"router": router or name, "label_source": labels or "none"}
    if router is not None and router not in PSEUDO_ROUTERS:
        try:
            resolved = resolve_params(router, dict(router_params or {}), labels,
                                      dict(label_params or {}))
        except TypeError as exc:
            raise ConfigError(f"router {router!r} / labels {labels!r}: {exc}") from None
        params["router_params"] = resolved["router"]
        if "seed" in resolved["router"] and "seed" not in (router_params or {}):
            params["router_params"]["seed"] = seed  # build_router's rule
        if "labels" in resolved:
            params["label_params"] = resolved["labels"]
    if limit is not None:
        params["limit"] = limit
    if router is not None and router not in PSEUDO_ROUTERS:
        params["protocol"] = check_protocol(protocol)
        params["features"] = check_features(features)

    def work(run: tracking.RunWriter | None) -> EvaluationResult:
        if scorer is not None:
            routed = scorer(bench)
        else:
            spec = SystemSpec(
                router=str(router), router_params=dict(router_params or {}), labels=labels,
                label_params=dict(label_params or {}), protocol=protocol, n_folds=n_folds,
                train_benchmarks=tuple(train_benchmarks or ()), seed=seed,
                embedding_input=embedding_input, features=features, scores_file=scores_file,
            )
            routed = score_system(spec, bench, data_dir=data_dir)
        merged = {**dict(routed.params), **params}
        # what left the evaluation before scoring, and the folds' seed (the JSON summary)
        if "n_dropped" in routed.info:
            merged["dropped_similar_to_training"] = int(routed.info["n_dropped"])
        if "fold_seed" in routed.info:
            merged["fold_seed"] = int(routed.info["fold_seed"])
        if "router_params" in routed.params and "router_params" in params:
            merged["router_params"] = {**params["router_params"], **routed.params["router_params"]}
        for key, value in routed.info.items():
            if isinstance(value, str):
                merged[f"info.{key}"] = value
        result = evaluate_scores(
            routed.benchmark, routed.scores, system=name, params=merged, seed=seed,
            log_to_mlflow=False, grid=grid, n_boot=n_boot, progress=progress,
        )
        usd, method = _usd(routed, full, result.metrics, seed, data_dir)
        result.metrics.update(usd)
        result.params["cost_method"] = method
        if run is not None:
            log_result(run, result, labels=routed.label_set, grid=grid)
            numbers = {k: float(v) for k, v in routed.info.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            run.metrics({**numbers, **usd})
        return result

    if not log_to_mlflow:
        return work(None)
    title = run_name or tracking.run_name(name, params.get("label_source") if labels else None,
                                          router if labels else None, bench.name,
                                          limit=limit)
    with tracking.open_run(title, evaluation_tags(name, params, grid),
                           experiment=experiment) as run:
        return work(run)
