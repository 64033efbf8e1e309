"""The Python API for notebooks: evaluate routers, calibrate and export them.

>>> import routerlab
>>> result = routerlab.evaluate("gsm8k", "random", n_boot=100, limit=200)  # doctest: +SKIP
>>> result.metrics["cpt_50"], result.curve.share[:3]                         # doctest: +SKIP

Every function here is what a ``routerlab`` command runs; see the README's "Python API".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baselines import system_scores
from harness import evaluation, metrics
from harness.evaluation import EvaluationResult
from harness.records import Benchmark


def evaluate(
    benchmark: str | Benchmark,
    router: str | None = None,
    *,
    system: str | None = None,
    labels: str | None = None,
    router_params: Mapping[str, Any] | None = None,
    label_params: Mapping[str, Any] | None = None,
    scores_file: str | Path | None = None,
    seed: int = 0,
    grid: metrics.Grid = "exact",
    n_boot: int = 1000,
    limit: int | None = None,
    data_dir: Path | None = None,
    log_to_mlflow: bool = False,
    **kwargs: Any,
) -> EvaluationResult:
    """Evaluate a router (``router``, trained on ``labels``) or a named ``system`` on a
    benchmark: ``result.curve`` (the exact call-performance curve), ``result.metrics``
    (``cpt_20/50/80`` in % of strong calls with ``_lo``/``_hi`` 95 % bootstrap CIs, ``apgr``,
    ``usd_*``), ``result.scores`` per prompt. Nothing is logged unless ``log_to_mlflow``.

    Further keyword arguments go to :func:`harness.evaluation.evaluate` (``experiment``,
    ``run_name``, ``progress``, ``weak_model``, ``strong_model``).
    """
    scorer = None
    if system is not None:
        name = system

        def scorer(bench: Benchmark) -> evaluation.RoutedScores:
            return system_scores(name, bench, seed=seed, data_dir=data_dir)

    return evaluation.evaluate(
        benchmark, router, system=system, scorer=scorer, labels=labels,
        router_params=router_params, label_params=label_params, scores_file=scores_file,
        seed=seed, grid=grid, n_boot=n_boot, limit=limit, data_dir=data_dir,
        log_to_mlflow=log_to_mlflow, **kwargs,
    )
