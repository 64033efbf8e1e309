"""``routerlab tune``: Optuna search over τ (SE labels) and router hyper-parameters.

Trials score a validation split of the benchmark (never the test prompts); the best
parameters are then evaluated once on the test split. Both are logged to MLflow; every trial
is its own MLflow run. Several processes (or machines) given the same ``--storage`` URL and
``--study-name`` share one Optuna study.

Examples::

    routerlab tune --labels se --router knn --benchmark gsm8k --trials 20
    routerlab tune --labels arena --router sw_ranking --benchmark mt_bench --objective weighted
    routerlab tune --labels se --router mlp --benchmark mmlu --objective multi \\
        --storage postgresql+psycopg2://user@host/db --study-name shared-mlp   # on each worker
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.prompt_features import EMBEDDING, FEATURE_SETS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "tune",
        help="tune τ and router hyper-parameters with Optuna (validation split, then test)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--router", "-r", required=True, help="router to tune (sw_ranking, mf, knn, mlp)"
    )
    p.add_argument("--labels", "-l", help="label source (se, accuracy, arena)")
    p.add_argument("--benchmark", "-b", required=True, help="benchmark name or file")
    p.add_argument("--study", help="study file whose [tuning] section gives the defaults")
    p.add_argument("--trials", type=int, help="trials run by this process (default: study's, 20)")
    p.add_argument(
        "--objective",
        choices=("cpt_50", "cpt_80", "weighted", "multi"),
        help="what to minimise on the validation split (default cpt_50)",
    )
    p.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="METRIC=W",
        help="weights for --objective weighted (default cpt_50=0.5 cpt_80=0.5)",
    )
    p.add_argument("--validation-fraction", type=float, help="share of prompts used to tune (0.5)")
    p.add_argument("--split-seed", type=int, help="seed of the validation/test split (0)")
    p.add_argument("--seed", type=int, default=0,
                   help="router seed and the sampler's base seed (default 0): the same seed "
                   "and worker on a fresh storage give the same trials")
    p.add_argument("--worker", type=int, default=0,
                   help="this worker's index among workers sharing a study (default 0); each "
                   "derives its own sampler seed, so give each a different one")
    p.add_argument(
        "--storage",
        help="Optuna storage URL (default $ROUTERLAB_OPTUNA_STORAGE or sqlite in .routerlab/)",
    )
    p.add_argument("--study-name", help="Optuna study name shared by workers (default derived)")
    p.add_argument("--no-test", action="store_true", help="skip the final test-split evaluation")
    p.add_argument(
        "--heartbeat-seconds",
        type=int,
        default=10,
        help="each worker beats into the storage this often (default 10)",
    )
    p.add_argument(
        "--grace-seconds",
        type=int,
        default=30,
        help="a trial without a beat for this long is FAILED and retried (default 30)",
    )
    p.add_argument(
        "--protocol",
        choices=("validation-split", "cross-fit"),
        default="validation-split",
        help="validation-split (default): tune on one validation part, test once on the rest; "
        "cross-fit: nested tuning with --labels outcomes: each of --folds outer folds gets "
        "parameters tuned by an inner cross-fit of the other folds, then is scored once",
    )
    p.add_argument("--folds", type=int, default=5, help="cross-fit: outer folds (default 5)")
    p.add_argument("--inner-folds", type=int, default=3,
                   help="cross-fit: inner folds that score each trial (default 3)")
    p.add_argument(
        "--features",
        choices=FEATURE_SETS,
        default=EMBEDDING,
        help="what the router reads: embedding (default) or embedding+stats (plus a dozen text "
        "statistics); the tuned parameters are kept apart per choice",
    )
    p.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from studies.spec import TuningSpec, load_study, tuned_key
    from studies.tuning import TuneSpec, tune, tuned_path

    defaults = load_study(args.study).tuning if args.study else TuningSpec()
    weights = dict(defaults.weights)
    if args.weight:
        weights = {}
        for item in args.weight:
            key, _, value = item.partition("=")
            try:
                weights[key.strip()] = float(value)
            except ValueError:
                raise ConfigError(
                    f"--weight {item!r}: want METRIC=NUMBER, e.g. cpt_50=0.7"
                ) from None
        bad = set(weights) - {"cpt_50", "cpt_80"}
        if bad:
            raise ConfigError(f"--weight names {sorted(bad)}; weights apply to cpt_50 and cpt_80")
    spec = TuneSpec(
        router=args.router,
        labels=args.labels,
        benchmark=args.benchmark,
        trials=args.trials if args.trials is not None else defaults.trials,
        objective=args.objective or defaults.objective,
        weights=weights,
        validation_fraction=(
            args.validation_fraction
            if args.validation_fraction is not None
            else defaults.validation_fraction
        ),
        split_seed=args.split_seed if args.split_seed is not None else defaults.split_seed,
        seed=args.seed,
        worker=args.worker,
        study_name=args.study_name,
        storage=args.storage,
        study_tag="tune",
        evaluate_test=not args.no_test,
        heartbeat_s=args.heartbeat_seconds,
        grace_s=args.grace_seconds,
        features=args.features,
    )
    if args.protocol == "cross-fit":
        return _run_nested(spec, args)
    outcome = tune(spec, data_dir=args.data_dir)
    tuned_file = tuned_path(
        tuned_key(spec.labels, spec.router, spec.benchmark, features=spec.features)
    )
    summary = {
        "optuna_study": outcome.study_name,
        "trials_in_study": outcome.n_trials,
        "best_params": outcome.best_params,
        "validation": {k: outcome.validation.get(k) for k in ("cpt_50", "cpt_80", "apgr")},
        "test": (
            {k: outcome.test.get(k) for k in ("cpt_50", "cpt_80", "apgr")} if outcome.test else None
        ),
        "test_run_id": outcome.test_run_id,
        "tuned_file": str(tuned_file),
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(f"Optuna study {outcome.study_name}: {outcome.n_trials} trials in storage")
    print(f"best params: {json.dumps(outcome.best_params, default=str)} "
          f"(written to {tuned_file}; `routerlab run STUDY --tuned` uses them)")
    v = outcome.validation
    print(
        f"validation: CPT50 {v.get('cpt_50', float('nan')):.2f}  "
        f"CPT80 {v.get('cpt_80', float('nan')):.2f}"
    )
    if outcome.test:
        t = outcome.test
        print(
            f"test:       CPT50 {t['cpt_50']:.2f} [{t.get('cpt_50_lo', float('nan')):.1f}, "
            f"{t.get('cpt_50_hi', float('nan')):.1f}]  CPT80 {t['cpt_80']:.2f}  "
            f"(MLflow run {outcome.test_run_id})"
        )
    return 0


def _run_nested(spec: Any, args: argparse.Namespace) -> int:
    from studies.nested_tuning import tune_cross_fit

    out = tune_cross_fit(
        spec, n_folds=args.folds, inner_folds=args.inner_folds, data_dir=args.data_dir
    )
    m = out.metrics
    summary = {
        "folds": [
            {"fold": c.fold, "router_params": c.router_params, "trials": c.n_trials,
             "inner_cpt_50": c.validation.get("cpt_50"), "inner_cpt_80": c.validation.get("cpt_80"),
             "optuna_study": c.optuna_study}
            for c in out.folds
        ],
        "cross_fit": {k: m.get(k) for k in
                      ("cpt_50", "cpt_50_lo", "cpt_50_hi", "cpt_80", "cpt_80_lo", "cpt_80_hi")},
        "run_id": out.run_id,
        "tuned_file": str(out.tuned_file),
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    for c in out.folds:
        print(f"fold {c.fold}: {json.dumps(c.router_params, default=str)}  inner CPT50 "
              f"{c.validation.get('cpt_50', float('nan')):.2f} ({c.n_trials} trials)")
    nan = float("nan")
    print(
        f"cross-fit, nested-tuned: CPT50 {m['cpt_50']:.2f} [{m.get('cpt_50_lo', nan):.1f}, "
        f"{m.get('cpt_50_hi', nan):.1f}]  CPT80 {m['cpt_80']:.2f} "
        f"[{m.get('cpt_80_lo', nan):.1f}, {m.get('cpt_80_hi', nan):.1f}]  (MLflow run {out.run_id})"
    )
    print(f"per-fold parameters written to {out.tuned_file}; `routerlab run STUDY --tuned` uses "
          "them for the study's cross-fit runs with the same seed and folds")
    return 0
