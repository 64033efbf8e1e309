"""The Python API for notebooks: evaluate routers, train, calibrate and export them.

Every function here is what a ``routerlab`` command runs (see the README's "Python API")::

    >>> import routerlab
    >>> result = routerlab.evaluate("gsm8k", "oracle", n_boot=0, limit=200)
    >>> len(result.benchmark), round(result.metrics["cpt_50"], 1)   # % of calls to strong
    (200, 10.7)
    >>> result.metrics["weak"], result.metrics["strong"]            # accuracies
    (0.625, 0.84)
    >>> round(float(result.curve.quality_at(0.5)), 3)   # at 50 % strong calls: above strong
    0.93
    >>> sorted(k for k in result.metrics if k.startswith("usd_cpt"))
    ['usd_cpt_50', 'usd_cpt_80']

A trained router, calibrated to send 30 % of a prompt set to the strong model (slow: it
embeds the labels and prompts)::

    >>> trained = routerlab.train_router("knn", "arena",
    ...     router_params={"k": 15, "weights": "similarity"})      # doctest: +SKIP
    >>> c = routerlab.calibrate_threshold(trained, "gsm8k", 0.3, check_prompts="mmlu",
    ...     limit=300)                                             # doctest: +SKIP
    >>> trained.threshold = c.threshold                             # doctest: +SKIP
    >>> trained.route(["What is 17 * 23?"])                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baselines import system_scores
from harness import evaluation, metrics
from harness.evaluation import EvaluationResult as EvaluationResult
from harness.records import Benchmark
from harness.serving.calibration import Calibration, calibrate, read_prompts
from harness.serving.trained import TrainedRouter
from harness.serving.trained import train_router as train_router
from harness.tracking import load_runs as load_runs


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


def calibrate_threshold(
    trained: TrainedRouter,
    prompts: str,
    share: float,
    *,
    check_prompts: str | None = None,
    limit: int | None = None,
    data_dir: Path | None = None,
) -> Calibration:
    """The threshold that sends ``share`` of ``prompts`` (a benchmark name or a prompt file)
    to the strong model, and the share it gives on ``check_prompts`` (drift)."""
    check = None
    if check_prompts is not None:
        check = trained.scores(read_prompts(check_prompts, data_dir=data_dir, limit=limit))
    return calibrate(
        trained.scores(read_prompts(prompts, data_dir=data_dir, limit=limit)), share,
        calibration_set=prompts, check_scores=check, check_set=check_prompts,
    )
