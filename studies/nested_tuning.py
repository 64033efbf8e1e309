"""Tuning nested inside cross-fit: every fold's hyper-parameters chosen without its prompts.

``routerlab tune --protocol cross-fit`` (outcome labels of the scored benchmark):

1. The benchmark's questions are split into ``n_folds`` outer folds, exactly as the
   cross-fit protocol splits them (:func:`harness.protocols.fold_of_questions`, seeded by
   ``spec.seed``), so the tuned values plug into a study's cross-fit runs of that seed.
2. For each outer fold ``f``: the label records of fold ``f``'s prompts are removed, and an
   Optuna study (one per fold, in the configured storage, so it resumes) tunes the router
   on the remaining prompts by an *inner* cross-fit (``inner_folds`` folds by question):
   a trial's value is the CPT of the inner out-of-fold scores. Fold ``f``'s prompts are
   never scored and never trained on while its parameters are chosen.
3. Each fold is then scored by a router with its fold's best parameters, fitted on the
   other folds' labels (:func:`harness.pipeline.router_scores` with
   ``fold_router_params``), and the out-of-fold scores are evaluated once, with bootstrap
   CIs, as one MLflow run.

Degenerate trials (constant scores: CPT exactly 50/80) are pruned, as in plain tuning, so
they are never chosen. The per-fold winners are written where ``routerlab run STUDY
--tuned`` finds them (:func:`studies.tuning.write_tuned`, protocol ``cross-fit``); a study's
cross-fit runs with the same seed and number of folds then use them fold by fold.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.prompt_features import router_variant
from harness.protocols import (
    CROSS_FIT,
    DEFAULT_CROSS_FIT_FOLDS,
    OUTCOME_LABELS,
    benchmark_ref,
    fold_of_questions,
    protocol_label_params,
    question_keys,
)
from harness.records import Benchmark, LabelSet
from harness.tracking import schema
from studies.tuning import (
    TuneSpec,
    _best_trial,
    _create_or_load_study,
    check_tune_spec,
    objective_values,
    search_space,
    split_params,
    suggest,
    write_tuned,
)

log = logging.getLogger(__name__)
DEFAULT_INNER_FOLDS = 3


@dataclass
class FoldChoice:
    """One outer fold's tuning: its winner and what the choice saw (ids, for audits)."""

    fold: int
    router_params: dict[str, Any]
    validation: dict[str, float]
    n_trials: int
    optuna_study: str
    # Prompt ids the inner trials scored and label record ids any inner fit trained on.
    inner_scored_ids: set[str]
    inner_train_ids: set[str]
    held_out_ids: set[str]


@dataclass
class NestedOutcome:
    folds: list[FoldChoice]
    metrics: dict[str, float]
    run_id: str | None
    tuned_file: Path


def _labels_without(label_set: LabelSet, drop_prompt_ids: set[str], benchmark: str) -> LabelSet:
    """The label set minus the records that describe the given prompts of ``benchmark``."""
    r = label_set.records
    if not {"benchmark", "prompt_id"} <= set(r.columns):
        raise ConfigError(
            f"nested cross-fit tuning needs label records with benchmark and prompt_id "
            f"columns (the '{OUTCOME_LABELS}' source has them); {label_set.source!r} has not"
        )
    held = (r["benchmark"].astype(str) == benchmark) & r["prompt_id"].astype(str).isin(
        drop_prompt_ids
    )
    return replace(label_set, records=r[~held.to_numpy()].reset_index(drop=True))


def tune_cross_fit(
    spec: TuneSpec,
    *,
    n_folds: int = DEFAULT_CROSS_FIT_FOLDS,
    inner_folds: int = DEFAULT_INNER_FOLDS,
    data_dir: Path | None = None,
    progress: bool = True,
    log_run: bool = True,
) -> NestedOutcome:
    """Nested tuning (module docstring); ``spec.trials`` trials per outer fold."""
    import optuna

    from harness import metrics as M
    from harness import paths
    from harness.benchmarks import load_benchmark
    from harness.evaluation import evaluate_scores
    from harness.labels.cache import load_label_set
    from harness.systems import SystemSpec, score_system

    check_tune_spec(spec)
    if spec.labels != OUTCOME_LABELS:
        raise ConfigError(
            f"--protocol cross-fit tunes on the benchmark's own outcomes: use --labels "
            f"{OUTCOME_LABELS} (got {spec.labels!r})"
        )
    if spec.objective == "multi":
        raise ConfigError("nested cross-fit tuning takes one objective: cpt_50, cpt_80 or weighted")
    for name, value in (("folds", n_folds), ("inner folds", inner_folds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ConfigError(f"{name} = {value!r} is not allowed; want a whole number >= 2")
    space = search_space(spec.router, spec.labels)
    data_dir = data_dir or paths.data_dir()
    storage = paths.with_sql_driver(spec.storage or paths.optuna_storage_url())
    benchmark = load_benchmark(spec.benchmark, data_dir)
    label_params = protocol_label_params(
        CROSS_FIT, spec.labels, spec.label_params, benchmark_ref(benchmark)
    )
    label_set = load_label_set(spec.labels, label_params, data_dir)
    system = SystemSpec(router=spec.router, router_params=dict(spec.router_params),
                        labels=spec.labels, label_params=label_params, protocol=CROSS_FIT,
                        features=spec.features)
    outer = fold_of_questions(question_keys(benchmark), n_folds, spec.seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and metric names are marked experimental; the warning says nothing to a user
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    fitted: dict[str, Any] = {}  # fits shared by trials with equal parameters and rows
    choices: list[FoldChoice] = []
    nesting = f":crossfit{n_folds}x{inner_folds}:seed{spec.seed}:split"
    base_name = spec.optuna_study_name().replace(":split", nesting)
    for f in range(n_folds):
        held_ids = {pid for pid, k in zip(benchmark.prompt_ids, outer, strict=True) if k == f}
        train_part = benchmark.subset(outer != f)
        train_labels = _labels_without(label_set, held_ids, benchmark.name)
        scored_ids: set[str] = set()
        train_ids: set[str] = set()

        def objective(trial: Any, part: Benchmark = train_part, labels: LabelSet = train_labels,
                      seen: set[str] = scored_ids, trained: set[str] = train_ids) -> float:
            params = {name: suggest(trial, name, rng) for name, rng in space.items()}
            router_params, _ = split_params(params)
            inner = replace(system.with_params(router_params), n_folds=inner_folds,
                            seed=spec.seed + 1)
            scored = score_system(inner, part, data_dir=data_dir, label_set=labels,
                                  fitted=fitted, show_progress=False)
            for fold in scored.folds:
                seen.update(fold.scored_ids)
                trained.update(fold.train_ids)
            s = np.asarray(scored.scores, dtype=float)
            kept = scored.benchmark
            curve = M.call_performance_curve(s, kept.weak_score, kept.strong_score)
            metrics = {"cpt_50": M.cpt(curve, 50), "cpt_80": M.cpt(curve, 80),
                       "apgr": M.apgr(curve), "constant_scores": float(M.is_degenerate(s))}
            for k, v in metrics.items():
                trial.set_user_attr(k, v)
            if metrics["constant_scores"]:
                trial.set_user_attr("degenerate", True)
                raise optuna.TrialPruned("the router's scores are constant (degenerate trial)")
            return objective_values(metrics, spec.objective, spec.weights)[0]

        name = f"{base_name}:fold{f}"
        sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed + f)
        study = _create_or_load_study(name, storage, ["minimize"], sampler, spec, lambda *_: None)
        study.set_metric_names(spec.metric_names())
        done = sum(t.state.is_finished() for t in study.trials)
        todo = max(0, spec.trials - done)
        if progress:
            print(f"fold {f + 1}/{n_folds}: {len(train_part)} prompts to tune on, "
                  f"{len(held_ids)} held out; {todo} trials ({done} already in storage)")
        if todo:
            study.optimize(objective, n_trials=todo, catch=(ValueError,))
        try:
            best = _best_trial(study, spec)
        except ValueError:
            raise ConfigError(
                f"fold {f}: no trial finished (all degenerate or failed); widen the search "
                "space or give more trials"
            ) from None
        router_best, _ = split_params(best.params)
        choices.append(FoldChoice(
            fold=f, router_params={**spec.router_params, **router_best},
            validation={k: float(v) for k, v in best.user_attrs.items()
                        if isinstance(v, (int, float))},
            n_trials=len(study.trials), optuna_study=name, inner_scored_ids=scored_ids,
            inner_train_ids=train_ids, held_out_ids=held_ids,
        ))

    final = replace(system, n_folds=n_folds, seed=spec.seed,
                    fold_router_params=tuple(c.router_params for c in choices))
    scored = score_system(final, benchmark, data_dir=data_dir, label_set=label_set,
                          show_progress=progress)
    per_fold = {f"fold{c.fold}.{k}": v for c in choices for k, v in c.router_params.items()}
    result = evaluate_scores(
        scored.benchmark, scored.scores,
        system=f"{spec.labels} × {router_variant(spec.router, spec.features)} (nested-tuned)",
        params={"router": spec.router, "router_params": spec.router_params,
                "label_source": spec.labels, "label_params": label_params,
                "protocol": CROSS_FIT, "features": spec.features,
                "n_folds": n_folds, "inner_folds": inner_folds,
                "fold_seed": spec.seed, "trials_per_fold": spec.trials, **per_fold},
        seed=spec.seed, n_boot=spec.n_boot, log_to_mlflow=log_run, labels=label_set,
        extra_tags={schema.KIND: "tuned_cross_fit", schema.PROTOCOL: CROSS_FIT,
                    schema.FEATURES: spec.features,
                    schema.tag("optuna_study"): base_name,
                    schema.tag("tuned"): _tuned_json(choices)},
    )
    tuned_file = write_tuned(
        spec, {}, {}, base_name,
        {k: float(np.mean([c.validation.get(k, np.nan) for c in choices]))
         for k in ("cpt_50", "cpt_80", "apgr")},
        protocol=CROSS_FIT,
        folds={"n_folds": n_folds, "fold_seed": spec.seed, "inner_folds": inner_folds,
               "router_params": [c.router_params for c in choices]},
    )
    return NestedOutcome(choices, dict(result.metrics), result.run_id, tuned_file)


def _tuned_json(choices: list[FoldChoice]) -> str:
    """Per parameter, the winning value of each fold (what the report's tuned table shows)."""
    import json

    names = sorted({k for c in choices for k in c.router_params})
    return json.dumps(
        {k: [c.router_params.get(k) for c in choices] for k in names}, default=str
    )
