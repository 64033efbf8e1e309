"""Evaluate a router's scores on a benchmark: metrics, curves, and an MLflow run.

:func:`evaluate_scores` is the one entry point every caller (CLI, studies) goes through.
:func:`scores_for` turns a router name into per-prompt scores: the evaluate-time
pseudo-routers live here —

* ``random``: :class:`routers.random.RandomRouter` (uniform scores, seeded);
* ``oracle``: ``strong − weak`` per prompt (the floor of CPT; it sees the outcomes);
* ``scores``: per-prompt scores read from a file (:func:`read_scores_file`), so an external
  router is evaluated without code;

and every other router is trained on a label source through
:func:`harness.pipeline.router_scores`. Named systems (label source + router) sit a layer
above, in :mod:`baselines` (``baselines.system_scores``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import metrics as M
from harness import paths
from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.pipeline import router_scores
from harness.records import Benchmark
from harness.tracking import DEFAULT_EXPERIMENT, TAG_PREFIX
from routers.random import RandomRouter

PSEUDO_ROUTERS: tuple[str, ...] = ("random", "oracle", "scores")


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
        for key, value in self.metrics.items():
            if math.isnan(value):
                out[key] = None
            else:
                out[key] = int(value) if key in ("n", "n_points", "n_boot") else value
        return out


def data_fingerprint(sha256s: Mapping[str, str]) -> str:
    """One sha256 over every (file, sha256) pair: a single param that pins the data."""
    h = hashlib.sha256()
    for name, digest in sorted(sha256s.items()):
        h.update(f"{name}:{digest}\n".encode())
    return h.hexdigest()


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
    if log_to_mlflow:
        from harness.tracking import log_evaluation

        tags = {
            f"{TAG_PREFIX}system": system,
            f"{TAG_PREFIX}router": str(params.get("router", system)),
            f"{TAG_PREFIX}label_source": str(params.get("label_source", "none")),
            f"{TAG_PREFIX}benchmark": benchmark.name,
            f"{TAG_PREFIX}grid": grid,
            **(extra_tags or {}),
        }
        result.run_id = log_evaluation(
            run_name=run_name or f"{system} · {benchmark.name}",
            params=all_params,
            metrics=metrics,
            tags=tags,
            curve=curve,
            oracle_curve=oracle_curve,
            benchmark=benchmark,
            title=f"{system} on {benchmark.name} (n={len(benchmark)})",
            experiment=experiment,
        )
    return result


# -- scores from a file ----------------------------------------------------------------------


def read_scores_file(path: str | Path, benchmark: Benchmark) -> np.ndarray:
    """Per-prompt scores from a CSV/JSONL/Parquet file, in the benchmark's order.

    The file has a ``score`` column (a number per row) and either an ``id`` column (matched
    to the benchmark's prompt ids: ``gsm8k-<row>``, ``mmlu-<subject>-<row>``, MT-Bench
    question ids, a custom file's ``id``) or a ``prompt`` column (matched to the prompt text).
    Rows for prompts not in the benchmark are ignored (e.g. decontaminated ones); every
    benchmark prompt needs a score.
    """
    from harness.benchmarks.custom import _read_table

    path = Path(path)
    df = _read_table(path)
    if len(df) == 0:
        raise DataError(f"{path}: no rows; the scores file needs one row per prompt")
    if "score" not in df.columns:
        raise DataError(
            f"{path}: missing column 'score' (found: {', '.join(map(str, df.columns))}); "
            "the scores file needs `id` or `prompt` plus `score`"
        )
    if "id" in df.columns:
        key_col, wanted = "id", benchmark.prompt_ids
    elif "prompt" in df.columns:
        key_col, wanted = "prompt", benchmark.prompts
    else:
        raise DataError(
            f"{path}: needs an 'id' or a 'prompt' column to match scores to {benchmark.name!r}"
        )
    keys = df[key_col].astype(str)
    values = pd.to_numeric(df["score"], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: column 'score' row {row} is {df['score'].iloc[row]!r}; every score must "
            "be a finite number"
        )
    table = pd.DataFrame({"key": keys, "score": values.astype(float)})
    conflicting = table.groupby("key")["score"].nunique()
    conflicting = conflicting[conflicting > 1]
    if len(conflicting):
        raise DataError(
            f"{path}: {key_col} {conflicting.index[0]!r} has different scores on several rows; "
            f"give each {key_col} one score"
        )
    mapping = table.drop_duplicates("key").set_index("key")["score"]
    found = pd.Index(mapping.index)
    missing = [k for k in wanted if k not in found]
    if missing:
        raise DataError(
            f"{path}: no score for {len(missing)} of {len(wanted)} prompts of "
            f"{benchmark.name!r} (first {key_col}: {missing[0][:80]!r}); add them"
        )
    return mapping.reindex(wanted).to_numpy(dtype=float)


# -- router name -> scores ------------------------------------------------------------------------


@dataclass
class RoutedScores:
    """Scores for a benchmark and what produced them."""

    scores: np.ndarray
    benchmark: Benchmark
    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def scores_for(
    router: str,
    benchmark: Benchmark,
    *,
    seed: int = 0,
    router_params: Mapping[str, Any] | None = None,
    labels: str | None = None,
    label_params: Mapping[str, Any] | None = None,
    scores_file: str | Path | None = None,
    data_dir: Path | None = None,
) -> RoutedScores:
    """Per-prompt scores of ``router`` on ``benchmark``.

    ``random``/``oracle``/``scores`` are handled here; any other name is a registry router
    trained on ``labels`` through ``harness.pipeline.router_scores`` (which may also
    decontaminate the benchmark: the returned ``benchmark`` is the one the scores match).
    """
    router_params = dict(router_params or {})
    label_params = dict(label_params or {})
    if router == "random":
        r = RandomRouter(seed=int(router_params.get("seed", seed)))
        scores = r.score(np.zeros((len(benchmark), 0)))
        params = {"router": "random", "router_params": r.get_params()}
        return RoutedScores(scores, benchmark, params)
    if router == "oracle":
        scores = M.oracle_scores(benchmark.weak_score, benchmark.strong_score)
        return RoutedScores(scores, benchmark, {"router": "oracle"})
    if router == "scores":
        if scores_file is None:
            raise ConfigError("--router scores needs --scores-file FILE (columns id|prompt, score)")
        path = Path(scores_file)
        scores = read_scores_file(path, benchmark)
        return RoutedScores(
            scores,
            benchmark,
            {"router": "scores", "scores_file": str(path), "scores_sha256": sha256_file(path)},
        )
    if labels is None:
        raise ConfigError(
            f"router {router!r} is trained on labels: add --labels SOURCE "
            "(se, accuracy, arena, ...) or use --system NAME"
        )
    scored = router_scores(
        router,
        router_params,
        labels,
        label_params,
        benchmark,
        seed=seed,
        data_dir=data_dir if data_dir is not None else paths.data_dir(),
    )
    return routed_from_scored(
        scored,
        benchmark,
        {
            "router": router,
            "router_params": router_params,
            "label_source": labels,
            "label_params": label_params,
        },
    )


def routed_from_scored(scored: Any, benchmark: Benchmark, params: dict[str, Any]) -> RoutedScores:
    """:class:`RoutedScores` from a pipeline result (or a bare score array) and its params."""
    scores = np.asarray(getattr(scored, "scores", scored), dtype=float)
    bench = getattr(scored, "benchmark", None)
    info = dict(getattr(scored, "info", {}) or {})
    if getattr(scored, "n_dropped", None) is not None:
        info["n_dropped"] = int(scored.n_dropped)
    return RoutedScores(scores, bench if bench is not None else benchmark, params, info)
