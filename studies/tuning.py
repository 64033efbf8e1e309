"""Optuna tuning of τ (SE labels) and router hyper-parameters on a validation split.

* The search space is read from the router's and the label source's ``search_space``
  (:class:`routers.base.FloatRange` / ``IntRange`` / ``Choice``); parameters are named
  ``router.<name>`` and ``labels.<name>`` in the Optuna study.
* The benchmark's prompts are split once, seeded, into a validation and a test part
  (:func:`split_benchmark`). Split keys are the prompt texts (so a text that occurs twice,
  as in MMLU, lands on one side) — for MT-Bench the question, so both turns of a question
  stay together. Trials see only the validation part; the chosen parameters are evaluated
  once on the test part, and both figures are logged.
* The objective is CPT(50 %) (``cpt_50``), CPT(80 %), a weighted sum of the two
  (``weighted``), or both at once (``multi``: a Pareto front; the reported choice is the
  front's member with the smallest weighted sum).
* Storage by URL (:func:`harness.paths.optuna_storage_url`: sqlite by default, PostgreSQL
  for several workers). Every trial is logged as an MLflow run (tags ``routerlab.kind =
  trial``, ``routerlab.optuna_study``, ``routerlab.trial``) by :class:`MLflowTrialLogger`.
* Workers beat a heartbeat into the storage (``RDBStorage(heartbeat_interval=...)``): a
  trial whose worker died (SIGKILL, a lost machine) is marked FAILED by the next worker
  once ``grace`` seconds pass without a beat, retried with the same parameters
  (:class:`StaleTrialCloser`), logged to MLflow as a FAILED trial, and the dead worker's
  tuning run is closed as KILLED.
"""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import tracking
from harness.errors import ConfigError
from harness.prompt_features import EMBEDDING, check_features, router_variant
from harness.protocols import question_keys
from harness.records import Benchmark
from harness.search_space import Choice, FloatRange, IntRange, ParamSpec
from harness.tracking import schema
from studies.spec import tuned_key

log = logging.getLogger(__name__)
TAG = schema.TAG_PREFIX


# -- split -------------------------------------------------------------------------------------
def split_keys(benchmark: Benchmark) -> list[str]:
    """The key that decides a prompt's side: its question (:func:`question_keys`)."""
    return question_keys(benchmark)


def validation_mask(benchmark: Benchmark, fraction: float, seed: int) -> np.ndarray:
    """True for validation prompts: a seeded hash of the split key below ``fraction``.

    A hash rather than a permutation, so a prompt's side does not depend on which other
    prompts the benchmark holds (decontamination can drop some).
    """

    def side(key: str) -> float:
        digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
        return int.from_bytes(digest[:8], "little") / 2**64

    mask = np.array([side(k) < fraction for k in split_keys(benchmark)], dtype=bool)
    if mask.all() or not mask.any():
        raise ConfigError(
            f"tuning split of {benchmark.name!r} ({len(benchmark)} prompts) left one side "
            "empty; change tuning.validation_fraction or tuning.split_seed"
        )
    return mask


def split_benchmark(
    benchmark: Benchmark, fraction: float, seed: int
) -> tuple[Benchmark, Benchmark]:
    """(validation, test) parts of ``benchmark``; no split key is on both sides."""
    mask = validation_mask(benchmark, fraction, seed)
    val, test = benchmark.subset(mask), benchmark.subset(~mask)
    val.name = test.name = benchmark.name
    return val, test


# -- search space ------------------------------------------------------------------------------
def suggest(trial: Any, name: str, spec: ParamSpec) -> Any:
    """One Optuna suggestion for a declared range."""
    if isinstance(spec, FloatRange):
        return trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    if isinstance(spec, IntRange):
        return trial.suggest_int(name, spec.low, spec.high, log=spec.log)
    if isinstance(spec, Choice):
        return trial.suggest_categorical(name, list(spec.choices))
    raise TypeError(f"unknown search-space entry {name!r}: {spec!r}")


def search_space(router: str, labels: str | None) -> dict[str, ParamSpec]:
    """``router.<p>`` and ``labels.<p>`` → range, from the plugins' declared search spaces."""
    from harness.plugins import LABEL_SOURCES, ROUTERS

    space: dict[str, ParamSpec] = {
        f"router.{k}": v for k, v in ROUTERS.get(router).search_space.items()
    }
    if labels is not None:
        space.update(
            {
                f"labels.{k}": v
                for k, v in getattr(LABEL_SOURCES.get(labels), "search_space", {}).items()
            }
        )
    if not space:
        raise ConfigError(
            f"nothing to tune: router {router!r}"
            + (f" and label source {labels!r}" if labels else "")
            + " declare no search_space"
        )
    return space


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Optuna's flat params → (router params, label params)."""
    router = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("router.")}
    labels = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith("labels.")}
    return router, labels


# -- objective ---------------------------------------------------------------------------------
def objective_values(
    metrics: dict[str, float], objective: str, weights: dict[str, float]
) -> list[float]:
    """The value(s) to minimise for ``objective`` from a metrics dict."""
    if objective in ("cpt_50", "cpt_80"):
        return [metrics[objective]]
    if objective == "weighted":
        return [weighted(metrics, weights)]
    if objective == "multi":
        return [metrics["cpt_50"], metrics["cpt_80"]]
    raise ConfigError(
        f"unknown tuning objective {objective!r}; use cpt_50, cpt_80, weighted or multi"
    )


def weighted(metrics: dict[str, float], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w * metrics[k] for k, w in weights.items()) / total


# -- MLflow logging of trials ----------------------------------------------------------------
class MLflowTrialLogger:
    """An Optuna callback that logs each finished trial as one MLflow run.

    Equivalent to optuna-integration's ``MLflowCallback`` (not a dependency here), but the
    run is a child of the tuning command's parent run and carries the study's tags, so the
    reports find trials by study. Safe with several worker processes: each logs only the
    trials it ran.
    """

    def __init__(self, parent_run_id: str | None, tags: dict[str, str]) -> None:
        self.parent_run_id = parent_run_id
        self.tags = tags

    def __call__(self, study: Any, trial: Any) -> None:
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        client = tracking.client()
        tags = {
            **self.tags,
            f"{TAG}kind": "trial",
            f"{TAG}optuna_study": study.study_name,
            f"{TAG}trial": str(trial.number),
            f"{TAG}trial_state": trial.state.name,
            MLFLOW_RUN_NAME: f"{study.study_name} trial {trial.number}",
        }
        if self.parent_run_id:
            tags[MLFLOW_PARENT_RUN_ID] = self.parent_run_id
        run = client.create_run(tracking.experiment_id(client=client), tags=tags)
        run_id = run.info.run_id
        # One batch per trial (trials come from other workers' callbacks too, so the fluent
        # run stack is not used here).
        writer = tracking.RunWriter(client, run_id)
        writer.params(trial.params)
        values = trial.values or []
        names = ["value"] if len(values) == 1 else [f"value_{i}" for i in range(len(values))]
        writer.metrics(dict(zip(names, (float(v) for v in values), strict=True)))
        writer.metrics({
            k: float(v) for k, v in trial.user_attrs.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        })
        writer.flush()
        status = "FINISHED" if trial.state.name == "COMPLETE" else "FAILED"
        client.set_terminated(run_id, status=status)


class StaleTrialCloser:
    """Optuna's heartbeat callback for a trial whose worker stopped beating.

    Retries the trial with the same parameters (Optuna's
    ``RetryHeartbeatStaleTrialCallback``), logs it to MLflow as a FAILED trial, and closes
    the dead worker's tuning run (``RUNNING`` forever otherwise) as KILLED.
    """

    def __init__(self, tags: dict[str, str], max_retry: int = 2) -> None:
        self.tags = tags
        self.max_retry = max_retry

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        from harness.tracking import client

        RetryHeartbeatStaleTrialCallback(max_retry=self.max_retry)(study, trial)
        run_id = trial.user_attrs.get("mlflow_parent_run")
        MLflowTrialLogger(run_id, self.tags)(study, trial)
        if run_id:
            mlflow_client = client()
            if mlflow_client.get_run(run_id).info.status == "RUNNING":
                mlflow_client.set_tag(run_id, f"{TAG}closed", "KILLED: worker stopped beating")
                mlflow_client.set_terminated(run_id, status="KILLED")
        log.warning("trial %d lost its worker; marked FAILED and retried", trial.number)


# -- the tuning run ----------------------------------------------------------------------------
@dataclass
class TuneSpec:
    """What to tune: one (labels, router, benchmark) system and the budget."""

    router: str
    labels: str | None
    benchmark: str
    trials: int = 20
    objective: str = "cpt_50"
    weights: dict[str, float] = field(default_factory=lambda: {"cpt_50": 0.5, "cpt_80": 0.5})
    validation_fraction: float = 0.5
    split_seed: int = 0
    seed: int = 0
    router_params: dict[str, Any] = field(default_factory=dict)
    label_params: dict[str, Any] = field(default_factory=dict)
    # What the router reads (harness.prompt_features): the embedding, or it and text statistics.
    features: str = EMBEDDING
    study_name: str | None = None
    storage: str | None = None
    study_tag: str = "tune"
    evaluate_test: bool = True
    n_boot: int = 200
    # This process's index among the workers sharing the study: each derives its own
    # sampler seed from ``seed``, so workers draw different trials and a rerun draws the same.
    worker: int = 0

    @property
    def sampler_seed(self) -> int:
        """The TPE sampler's seed: a hash of (seed, worker)."""
        digest = hashlib.sha256(f"tune-sampler:{self.seed}:{self.worker}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    def metric_names(self) -> list[str]:
        """The objective's name(s), as the Optuna dashboard shows them."""
        if self.objective == "multi":
            return ["cpt_50", "cpt_80"]
        if self.objective == "weighted":
            terms = ",".join(f"{k}={v:g}" for k, v in sorted(self.weights.items()))
            return [f"weighted({terms})"]
        return [self.objective]
    # Worker liveness in the storage: a beat every heartbeat_s seconds; a trial without one
    # for grace_s seconds belongs to a dead worker.
    heartbeat_s: int = 10
    grace_s: int = 30

    def optuna_study_name(self) -> str:
        if self.study_name:
            return self.study_name
        labels = self.labels or "none"
        objective = self.objective
        if objective == "weighted":  # different weights are different objectives
            objective += "(" + ",".join(f"{k}={v:g}" for k, v in sorted(self.weights.items())) + ")"
        router = router_variant(self.router, self.features)
        parts = (self.study_tag, labels, router, self.benchmark, objective)
        return ":".join(parts) + f":split{self.split_seed}"


@dataclass
class TuneOutcome:
    study_name: str
    storage: str
    n_trials: int
    best_params: dict[str, Any]
    validation: dict[str, float]
    test: dict[str, float] | None
    test_run_id: str | None


Scorer = Callable[[dict[str, Any], dict[str, Any], Benchmark], np.ndarray]


def make_scorer(spec: TuneSpec, data_dir: Path) -> Scorer:
    """(router params, label params, benchmark part) → scores, through
    :func:`harness.systems.score_system` (labels from the one label cache)."""
    from harness.systems import SystemSpec, score_system

    base = SystemSpec(router=spec.router, labels=spec.labels, seed=spec.seed,
                      features=spec.features)

    def score(
        router_params: dict[str, Any], label_params: dict[str, Any], part: Benchmark
    ) -> np.ndarray:
        routed = score_system(
            base.with_params(router_params, label_params), part, data_dir=data_dir,
            show_progress=False,
        )
        # The pipeline may drop contaminated prompts: the scores belong to what it kept.
        score.last_benchmark = routed.benchmark  # type: ignore[attr-defined]
        return np.asarray(routed.scores, dtype=float)

    return score


def check_tune_spec(spec: TuneSpec) -> None:
    """One clear line for the first thing wrong with ``spec``; fixed params are coerced."""
    from harness.plugins import check_label_params, check_router_params

    if spec.objective not in ("cpt_50", "cpt_80", "weighted", "multi"):
        raise ConfigError(
            f"unknown tuning objective {spec.objective!r}; use cpt_50, cpt_80, weighted or multi"
        )
    if isinstance(spec.trials, bool) or not isinstance(spec.trials, int) or spec.trials < 1:
        raise ConfigError(f"trials = {spec.trials!r} is not allowed; want a whole number >= 1")
    if not 0 < spec.validation_fraction < 1:
        raise ConfigError(
            f"validation_fraction = {spec.validation_fraction!r} is not allowed; "
            "want a number between 0 and 1 (exclusive)"
        )
    for name, value in (("heartbeat_s", spec.heartbeat_s), ("grace_s", spec.grace_s)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} = {value!r} is not allowed; want a whole number >= 1")
    if spec.grace_s <= spec.heartbeat_s:
        raise ConfigError(
            f"grace_s = {spec.grace_s} must exceed heartbeat_s = {spec.heartbeat_s}: a live "
            "worker would be taken for dead between two beats"
        )
    check_features(spec.features)
    spec.router_params = check_router_params(spec.router, spec.router_params, "tuning")
    if spec.labels is not None:
        spec.label_params = check_label_params(spec.labels, spec.label_params, "tuning")


def tune(
    spec: TuneSpec,
    *,
    data_dir: Path | None = None,
    scorer: Scorer | None = None,
    progress: bool = True,
) -> TuneOutcome:
    """Run ``spec.trials`` trials in this process (joining the shared study), then test once."""
    import optuna

    from harness import metrics as M
    from harness import paths
    from harness.benchmarks import load_benchmark
    from harness.evaluation import evaluate_scores

    check_tune_spec(spec)  # before any data loads or anything reaches MLflow / Optuna
    space = search_space(spec.router, spec.labels)
    data_dir = data_dir or paths.data_dir()
    storage = paths.with_sql_driver(spec.storage or paths.optuna_storage_url())
    if storage == tracking.tracking_uri() and not storage.startswith("sqlite"):
        # Both keep their schema version in a table named alembic_version: one database
        # for both breaks the second one opened.
        raise ConfigError(
            f"Optuna storage and MLflow store are one database ({tracking.display_uri()}); "
            "give them separate databases (--storage / MLFLOW_TRACKING_URI)"
        )
    benchmark = load_benchmark(spec.benchmark, data_dir)
    val, test = split_benchmark(benchmark, spec.validation_fraction, spec.split_seed)
    score = scorer or make_scorer(spec, data_dir)

    def evaluate(
        router_params: dict[str, Any], label_params: dict[str, Any], part: Benchmark
    ) -> tuple[dict[str, float], Benchmark, np.ndarray]:
        s = score(router_params, label_params, part)
        kept = getattr(score, "last_benchmark", part)
        curve = M.call_performance_curve(s, kept.weak_score, kept.strong_score)
        return (
            {"cpt_50": M.cpt(curve, 50), "cpt_80": M.cpt(curve, 80), "apgr": M.apgr(curve),
             "constant_scores": float(M.is_degenerate(s))},
            kept,
            s,
        )

    parent: dict[str, str] = {}

    def objective(trial: Any) -> float | list[float]:
        # Which MLflow run to close if this worker dies during the trial.
        trial.set_user_attr("mlflow_parent_run", parent.get("id", ""))
        params = {name: suggest(trial, name, rng) for name, rng in space.items()}
        router_params, label_params = split_params(params)
        metrics, _, _ = evaluate(
            {**spec.router_params, **router_params}, {**spec.label_params, **label_params}, val
        )
        for k, v in metrics.items():
            trial.set_user_attr(k, v)
        if metrics["constant_scores"]:
            # CPT exactly 50/80 from a router that routes like random: flagged and pruned,
            # so it can never be the best trial
            import optuna

            trial.set_user_attr("degenerate", True)
            raise optuna.TrialPruned("the router's scores are constant (degenerate trial)")
        values = objective_values(metrics, spec.objective, spec.weights)
        return values if spec.objective == "multi" else values[0]

    name = spec.optuna_study_name()
    directions: list[Any] = ["minimize"] * (2 if spec.objective == "multi" else 1)
    tags = {
        f"{TAG}study": spec.study_tag,
        f"{TAG}router": spec.router,
        f"{TAG}label_source": spec.labels or "none",
        f"{TAG}benchmark": spec.benchmark,
        schema.FEATURES: spec.features,
    }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and metric names are marked experimental; the warning says nothing to a user
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed)
    closer = StaleTrialCloser(tags)
    study = _create_or_load_study(name, storage, directions, sampler, spec, closer)
    study.set_metric_names(spec.metric_names())
    tracking.open_store()  # several workers may start on one fresh store
    study.set_user_attr("validation_fraction", spec.validation_fraction)
    study.set_user_attr("split_seed", spec.split_seed)
    params_to_log = {
        "optuna_study": name,
        "objective": spec.objective,
        "trials": spec.trials,
        "validation_fraction": spec.validation_fraction,
        "split_seed": spec.split_seed,
        "router": spec.router,
        "label_source": spec.labels or "none",
        "benchmark": spec.benchmark,
        "features": spec.features,
        "n_validation": len(val),
        "n_test": len(test),
        "storage_kind": storage.split(":", 1)[0],
        "seed": spec.seed,
        "worker": spec.worker,
        "sampler_seed": spec.sampler_seed,
    }
    with tracking.parent_run(
        f"tune {name}", params_to_log, tags={**tags, f"{TAG}kind": "tuning"}
    ) as parent_id:
        parent["id"] = parent_id
        logger = MLflowTrialLogger(parent_id, tags)
        study.optimize(
            objective,
            n_trials=spec.trials,
            callbacks=[logger],
            show_progress_bar=progress,
            catch=(ValueError,),
        )
        best = _best_trial(study, spec)
        router_best, labels_best = split_params(best.params)
        router_params = {**spec.router_params, **router_best}
        label_params = {**spec.label_params, **labels_best}
        validation = {
            k: float(v) for k, v in best.user_attrs.items() if isinstance(v, (int, float))
        }
        test_metrics: dict[str, float] | None = None
        test_run: str | None = None
        if spec.evaluate_test:
            s = score(router_params, label_params, test)
            kept = getattr(score, "last_benchmark", test)
            result = evaluate_scores(
                kept,
                s,
                system=f"{spec.labels or 'none'} × {spec.router} (tuned)",
                params={
                    "router": spec.router,
                    "router_params": router_params,
                    "label_source": spec.labels or "none",
                    "label_params": label_params,
                    "split": "test",
                    "features": spec.features,
                    "optuna_study": name,
                },
                seed=spec.seed,
                n_boot=spec.n_boot,
                extra_tags={
                    **tags,
                    f"{TAG}split": "test",
                    f"{TAG}optuna_study": name,
                    f"{TAG}kind": "tuned_test",
                },
            )
            test_metrics = dict(result.metrics)
            test_run = result.run_id
        summary = tracking.RunWriter(tracking.client(), parent_id)
        summary.metrics({f"val_{k}": v for k, v in validation.items()})
        if test_metrics:
            summary.metrics({f"test_{k}": test_metrics[k] for k in ("cpt_50", "cpt_80", "apgr")
                             if k in test_metrics})
        summary.params({f"best.{k}": v for k, v in best.params.items()})
        summary.flush()
    write_tuned(spec, router_best, labels_best, name, validation)
    return TuneOutcome(
        name, storage, len(study.trials), dict(best.params), validation, test_metrics, test_run
    )


# -- best parameters, where `routerlab run STUDY --tuned` finds them --------------------------
def tuned_dir() -> Path:
    """``$ROUTERLAB_HOME/tuned``: one JSON file per tuned (labels, router, benchmark)."""
    from harness import paths

    return paths.home_dir() / "tuned"


def tuned_path(key: str) -> Path:
    """The file of one tuned record: the key made safe as a file name (a custom
    benchmark's key holds its path)."""
    import re

    return tuned_dir() / (re.sub(r"[^\w.+-]+", "_", key).strip("_") + ".json")


def write_tuned(
    spec: TuneSpec,
    router_params: dict[str, Any],
    label_params: dict[str, Any],
    study_name: str,
    validation: dict[str, float],
    *,
    protocol: str = "transfer",
    folds: dict[str, Any] | None = None,
) -> Path:
    """The best parameters of a tuning run, as ``routerlab run --tuned`` reads them.

    Nested cross-fit tuning (``protocol="cross-fit"``) adds ``folds``: the number of folds,
    their seed and one router-parameter dict per fold."""
    import json
    import os
    import tempfile

    folder = tuned_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = tuned_path(
        tuned_key(spec.labels, spec.router, spec.benchmark, protocol, spec.features)
    )
    record = {
        "protocol": protocol,
        "labels": spec.labels,
        "router": spec.router,
        "features": spec.features,
        "benchmark": spec.benchmark,
        "router_params": router_params,
        "label_params": label_params,
        "optuna_study": study_name,
        "objective": spec.metric_names(),
        "validation": {k: v for k, v in validation.items() if math.isfinite(v)},
        "seed": spec.seed,
    }
    if folds is not None:
        record["folds"] = folds
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=2, default=str)
    os.replace(tmp, path)
    return path


def load_tuned() -> dict[str, dict[str, Any]]:
    """Every tuned record in :func:`tuned_dir`, by :func:`tuned_key`."""
    import json

    out: dict[str, dict[str, Any]] = {}
    folder = tuned_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
            key = tuned_key(
                record["labels"], record["router"], record["benchmark"],
                record.get("protocol", "transfer"), record.get("features", EMBEDDING),
            )
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{path}: not a tuned-parameters file ({exc}); delete it") from None
        out[key] = record
    return out


def _create_or_load_study(
    name: str,
    storage: str,
    directions: list[Any],
    sampler: Any,
    spec: TuneSpec,
    on_stale: Callable[[Any, Any], None],
) -> Any:
    """Join the shared study, creating it (and the storage's tables) if this worker is first.

    Two workers starting at once on an empty database both try to create Optuna's tables
    and the study; the loser gets an integrity error from the database. It waits a moment
    and tries again, by then finding both.
    """
    import random
    import time

    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(6):
        try:
            rdb = optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=spec.heartbeat_s,
                grace_period=spec.grace_s,
                heartbeat_stale_trial_callback=on_stale,
            )
            return optuna.create_study(
                study_name=name,
                storage=rdb,
                directions=directions,
                sampler=sampler,
                load_if_exists=True,
            )
        except (IntegrityError, ProgrammingError, OperationalError, RuntimeError) as exc:
            # RuntimeError: "no longer compatible with the table schema", read while another
            # worker is still writing the new storage's version row.
            if isinstance(exc, RuntimeError) and "table schema" not in str(exc):
                raise
            if attempt == 5:
                raise ConfigError(f"Optuna storage {storage.split('@')[-1]}: {exc}") from None
            log.info("storage busy (another worker is creating it); retrying")
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def _best_trial(study: Any, spec: TuneSpec) -> Any:
    if spec.objective != "multi":
        return study.best_trial
    front = study.best_trials
    return min(
        front, key=lambda t: weighted({"cpt_50": t.values[0], "cpt_80": t.values[1]}, spec.weights)
    )
