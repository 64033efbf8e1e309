"""``routerlab evaluate``: a router's CPT/APGR on one or more benchmarks, logged to MLflow.

Examples::

    routerlab evaluate --benchmark gsm8k --router random
    routerlab evaluate --benchmark all --router oracle --json
    routerlab evaluate --benchmark mine.csv --router scores --scores-file scores.csv
    routerlab evaluate --benchmark mt_bench --router knn --labels se --router-param k=1
    routerlab evaluate --benchmark all --system confidence-mlp --grid routellm
    routerlab evaluate -b gsm8k -r random -r oracle --limit 200 --out results.csv
    routerlab evaluate --benchmark gsm8k --router knn --labels outcomes --protocol cross-fit
    routerlab evaluate --benchmark gsm8k --router knn --labels outcomes \
        --protocol leave-one-benchmark-out --train-benchmarks mmlu

Every evaluation also writes a results file (``--out``, default
``$ROUTERLAB_HOME/results/evaluate-<time>.json``) and prints USD at CPT(50 %).

Protocols (where a trained router's labels come from): transfer (default; labels from other
data), cross-fit (the benchmark's own outcomes, --folds folds of whole questions; no prompt
is scored by a router that saw it), leave-one-benchmark-out (the outcomes of the other
benchmarks of the same model pair; --train-benchmarks names them, default: the paper's
benchmarks and those given with --benchmark that share the pair).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from harness.prompt_features import EMBEDDING, FEATURE_SETS

BENCHMARK_HELP = (
    "gsm8k, mmlu, mt_bench (or a plugin name), 'all' (the paper's three), or a custom "
    "benchmark file (.csv/.jsonl/.parquet); repeat or comma-separate for several"
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a router on benchmarks (CPT, APGR, bootstrap CIs; MLflow run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--benchmark", "-b", action="append", required=True, help=BENCHMARK_HELP)
    p.add_argument(
        "--router", "-r", action="append", default=None,
        help="random | oracle | scores | a registered router (needs --labels); repeat or "
        "comma-separate for several; default random",
    )
    from baselines.systems import SYSTEMS

    p.add_argument("--system", "-s", action="append", default=None,
                   help="a named system (label source + router): "
                   + ", ".join(SYSTEMS) + "; repeatable (`routerlab plugins` describes them)")
    p.add_argument("--labels", "-l", help="label source for a trained router (se, accuracy, "
                   "sampled_accuracy, arena, outcomes, or a plugin; `routerlab plugins` lists "
                   "them)")
    p.add_argument("--router-param", action="append", default=[], metavar="KEY=VALUE",
                   help="router hyper-parameter (repeatable)")
    p.add_argument("--label-param", action="append", default=[], metavar="KEY=VALUE",
                   help="label-source hyper-parameter (repeatable)")
    p.add_argument("--protocol", default="transfer",
                   help="transfer (default) | cross-fit | leave-one-benchmark-out")
    p.add_argument("--embedding-input", default="auto",
                   choices=("auto", "full", "strip-prefix", "tail"),
                   help="what of each prompt is embedded: auto (default: drop a long prefix "
                        "shared by every prompt, e.g. few-shot examples), full, strip-prefix, "
                        "tail (the last words)")
    p.add_argument("--features", default=EMBEDDING, choices=FEATURE_SETS,
                   help="what a trained router reads: embedding (default) or embedding+stats "
                        "(the embedding plus a dozen text statistics: length, numbers, ...)")
    p.add_argument("--weak-column", help="custom file with many models: the weak model's column")
    p.add_argument("--strong-column",
                   help="custom file with many models: the strong model's column")
    p.add_argument("--drop-missing", action="store_true",
                   help="custom file: drop rows missing either outcome (counted in the summary)")
    p.add_argument("--folds", type=int, default=None,
                   help="cross-fit: number of folds of whole questions (default 5)")
    p.add_argument("--train-benchmarks", default=None, metavar="NAME[,NAME]",
                   help="leave-one-benchmark-out: the benchmarks whose outcomes train the router")
    p.add_argument("--scores-file", type=Path,
                   help="for --router scores: file with columns id|prompt and score")
    p.add_argument("--seed", type=int, default=0, help="router and bootstrap seed (default 0)")
    p.add_argument("--grid", choices=("exact", "routellm"), default="exact",
                   help="exact curve (default) or RouteLLM's 10-quantile thresholds")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: no CIs)")
    p.add_argument("--weak-model", help="weak model name for a custom benchmark file")
    p.add_argument("--strong-model", help="strong model name for a custom benchmark file")
    p.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")
    p.add_argument("--experiment", default=None, help="MLflow experiment (default routerlab)")
    p.add_argument("--run-name", help="MLflow run name (parent run when several benchmarks)")
    p.add_argument("--limit", type=int, help="evaluate only the first N prompts of each benchmark")
    p.add_argument("--out", type=Path,
                   help="results file (.json, or .csv: one row per result); default "
                   "$ROUTERLAB_HOME/results/evaluate-<time>.json")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a table")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    p.set_defaults(func=run)


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings as a dict; values parsed as YAML scalars (1, 0.5, true, text)."""
    import yaml

    from harness.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def expand_benchmarks(values: list[str]) -> list[str]:
    from harness.benchmarks import PAPER_BENCHMARKS

    out: list[str] = []
    for value in values:
        for part in value.split(",") if not Path(value).exists() else [value]:
            part = part.strip()
            if not part:
                continue
            for name in PAPER_BENCHMARKS if part == "all" else (part,):
                if name not in out:
                    out.append(name)
    return out


def _fmt_score(value: float, accuracy: bool) -> str:
    return f"{100 * value:.2f}%" if accuracy else f"{value:.3f}"


def _fmt_ci(m: dict[str, float], key: str) -> str:
    lo, hi = m.get(f"{key}_lo", math.nan), m.get(f"{key}_hi", math.nan)
    if math.isnan(lo):
        return f"{m[key]:.1f}"
    return f"{m[key]:.1f} [{lo:.1f}, {hi:.1f}]"


def _fmt_usd(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"${value:,.2f}"
def _beats_random(m: dict[str, float]) -> str:
    """yes/no per target from the paired test against the random router; flagged routers
    (constant scores) get no verdict."""
    if m.get("constant_scores"):
        return "constant scores"
    if "beats_random_50" not in m:
        return "–"
    return "/".join("yes" if m.get(f"beats_random_{p}") else "no" for p in ("50", "80"))


def format_table(results: list[Any]) -> str:
    """The readable summary: one row per evaluation."""
    import numpy as np

    headers = ["system", "benchmark", "n", "weak", "strong", "oracle", "CPT(20%)", "CPT(50%)",
               "CPT(80%)", "APGR", "oracle CPT(50%)", "beats random (50/80)", "USD@CPT(50%)",
               "USD all-strong"]
    rows = []
    for r in results:
        m = r.metrics
        b = r.benchmark
        # 0/1 outcomes are accuracies: show them in percent, as the paper does.
        accuracy = bool(np.isin(np.concatenate([b.weak_score, b.strong_score]), (0.0, 1.0)).all())
        rows.append([
            r.system, b.name, str(len(b)), _fmt_score(m["weak"], accuracy),
            _fmt_score(m["strong"], accuracy),
            _fmt_score(m["oracle"], accuracy), _fmt_ci(m, "cpt_20"), _fmt_ci(m, "cpt_50"),
            _fmt_ci(m, "cpt_80"), f"{m['apgr']:.3f}", f"{m['oracle_cpt_50']:.1f}",
            _beats_random(m),
            _fmt_usd(m.get("usd_cpt_50")), _fmt_usd(m.get("usd_all_strong")),
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def results_path(out: Path | None) -> Path:
    """Where the results file goes: ``--out``, else a new file under ROUTERLAB_HOME."""
    if out is not None:
        return out
    import time

    from harness import paths

    return paths.home_dir() / "results" / f"evaluate-{time.strftime('%Y%m%d-%H%M%S')}.json"


def write_results(path: Path, summary: dict[str, Any]) -> None:
    """The summary as JSON (or one row per result as CSV for a .csv path), written whole."""
    import os
    import tempfile

    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        text = pd.DataFrame(summary["results"]).to_csv(index=False)
    else:
        text = json.dumps(summary, indent=2, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from harness.benchmarks import PAPER_BENCHMARKS, load_benchmark
    from harness.errors import ConfigError
    from harness.evaluation import PSEUDO_ROUTERS, system_label
    from harness.plugins import check_label_params, check_router_params
    from harness.tracking import DEFAULT_EXPERIMENT, parent_run
    from routerlab.api import evaluate

    routers = [r.strip() for v in (args.router or []) for r in v.split(",") if r.strip()]
    systems = [s.strip() for v in (args.system or []) for s in v.split(",") if s.strip()]
    if systems and routers:
        raise ConfigError("give --router or --system, not both")
    if systems and (args.labels or args.router_param or args.label_param):
        raise ConfigError(
            "--system fixes labels and router; drop --labels/--router-param/--label-param"
        )
    if not systems and not routers:
        routers = ["random"]
    pseudo = [r for r in routers if r in PSEUDO_ROUTERS]
    if pseudo and args.labels:
        raise ConfigError(f"--router {pseudo[0]} uses no labels; drop --labels")
    if args.n_boot < 0:
        raise ConfigError("--n-boot must be 0 or more")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    from harness.protocols import (
        LEAVE_ONE_BENCHMARK_OUT,
        TRANSFER,
        check_protocol,
        leave_one_out_benchmarks,
    )

    protocol = check_protocol(args.protocol)
    if protocol != TRANSFER and (systems or all(r in PSEUDO_ROUTERS for r in routers)):
        raise ConfigError(
            f"--protocol {protocol} trains a router on outcome labels: use --router NAME "
            "--labels outcomes"
        )
    router_params = parse_key_values(args.router_param, "--router-param")
    label_params = parse_key_values(args.label_param, "--label-param")
    # Every value checked before any data loads or anything reaches MLflow; each router
    # gets the values as it will run them (k = 2.0 runs, and is logged, as 2).
    params_of: dict[str, dict[str, Any]] = {}
    for r in routers:
        if r in ("oracle", "scores"):
            if router_params:
                raise ConfigError(f"--router {r} takes no --router-param")
            continue
        params_of[r] = check_router_params(r, router_params, "--router-param")
    if args.labels:
        label_params = check_label_params(args.labels, label_params, "--label-param")
    names = expand_benchmarks(args.benchmark)
    if not names:
        raise ConfigError("--benchmark: nothing to evaluate")
    whats = [("system", s) for s in systems] or [("router", r) for r in routers]
    labels_of = {
        value: system_label(value if kind == "router" else None,
                            value if kind == "system" else None,
                            args.labels if kind == "router" and value not in PSEUDO_ROUTERS
                            else None, args.scores_file)
        for kind, value in whats
    }
    title = " + ".join(labels_of.values())
    experiment = args.experiment or DEFAULT_EXPERIMENT
    log = not args.no_mlflow
    given_train = (
        [b.strip() for b in args.train_benchmarks.split(",") if b.strip()]
        if args.train_benchmarks else None
    )
    pairs: dict[str, tuple[str, str]] = {}

    def pair_of(name: str) -> tuple[str, str]:
        if name not in pairs:
            b = load_benchmark(name, args.data_dir, weak_model=args.weak_model,
                               strong_model=args.strong_model, weak_column=args.weak_column,
                               strong_column=args.strong_column, drop_missing=args.drop_missing)
            pairs[name] = (b.weak_model, b.strong_model)
        return pairs[name]

    def train_benchmarks(name: str) -> list[str] | None:
        if protocol != LEAVE_ONE_BENCHMARK_OUT:
            return None
        if given_train:
            return given_train
        candidates = list(dict.fromkeys([*PAPER_BENCHMARKS, *names]))
        return list(leave_one_out_benchmarks(name, candidates, pair_of))

    cells = [(kind, value, name) for kind, value in whats for name in names]

    def evaluate_one(kind: str, value: str, name: str) -> Any:
        trained = kind == "router" and value not in PSEUDO_ROUTERS
        return evaluate(
            name,
            value if kind == "router" else None,
            system=value if kind == "system" else None,
            labels=args.labels if trained else None,
            router_params=params_of.get(value) if trained or value == "random" else None,
            label_params=label_params if trained else None,
            scores_file=args.scores_file, seed=args.seed, grid=args.grid, n_boot=args.n_boot,
            limit=args.limit, data_dir=args.data_dir, log_to_mlflow=log,
            experiment=experiment, run_name=args.run_name if len(cells) == 1 else None,
            progress=True, weak_model=args.weak_model, strong_model=args.strong_model,
            protocol=protocol if trained else TRANSFER, n_folds=args.folds,
            embedding_input=args.embedding_input, features=args.features,
            weak_column=args.weak_column,
            strong_column=args.strong_column, drop_missing=args.drop_missing,
            train_benchmarks=train_benchmarks(name) if trained else None,
        )

    results = []
    parent_id = None
    bar = tqdm(cells, desc="evaluate", unit="run", disable=None if len(cells) > 1 else True)
    if log and len(cells) > 1:
        with parent_run(
            args.run_name or f"evaluate · {title} · {'+'.join(names)}",
            {"systems": list(labels_of.values()), "labels": args.labels or "",
             "benchmarks": names, "seed": args.seed, "grid": args.grid,
             "limit": args.limit if args.limit is not None else "none"},
            experiment=experiment,
        ) as parent_id:
            for cell in bar:
                results.append(evaluate_one(*cell))
    else:
        for cell in bar:
            results.append(evaluate_one(*cell))

    summary = {
        "system": title,
        "systems": list(labels_of.values()),
        "protocol": protocol,
        "grid": args.grid,
        "seed": args.seed,
        "limit": args.limit,
        "mlflow_parent_run_id": parent_id,
        "results": [r.summary() for r in results],
    }
    path = results_path(args.out)
    write_results(path, summary)
    if args.json:
        json.dump(summary, sys.stdout, indent=2, allow_nan=False)
        print()
    else:
        print(f"protocol: {protocol}   grid: {args.grid}   seed: {args.seed}   "
              f"CPT in % of strong calls [95% bootstrap CI, {args.n_boot} resamples]")
        for r in results:
            train = r.params.get("train_benchmarks")
            if train:
                print(f"  {r.benchmark.name}: trained on the outcomes of {train}")
        print(format_table(results))
        for r in results:
            if r.metrics.get("constant_scores"):
                print(f"warning: {r.benchmark.name}: the router's scores are constant or nearly "
                      "(one value on >= 95% of prompts); it routes like random, so its CPTs get "
                      "no CI. Check the embedding input (--embedding-input) and the labels.")
        if log:
            from harness.tracking import display_uri

            ids = ", ".join(str(r.run_id) for r in results)
            where = f"parent {parent_id}; " if parent_id else ""
            print(f"MLflow: {where}runs {ids} in experiment {experiment!r} at {display_uri()}")
    print(f"results: {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
