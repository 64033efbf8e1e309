"""``routerlab labels se|show``: build SE preference labels from two models.

    routerlab labels se --prompts nq_open,triviaqa,mawps --limit 500 \\
        --weak qwen-0.5b --strong qwen-1.5b --samples 5 --nli llm:qwen-1.5b --out FILE

Local model names (``qwen-0.5b``, ``qwen-1.5b``, ``smollm2``) run in process with llama.cpp
(``server:NAME`` starts a local OpenAI-compatible server instead); other names come from
``--endpoints FILE``. Every call is cached, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("labels", help="build preference labels (se)")
    sub = p.add_subparsers(dest="labels_command", metavar="SOURCE")

    se = sub.add_parser("se", help="semantic-entropy labels from a weak and a strong model")
    se.add_argument(
        "--prompts",
        default="nq_open,triviaqa,mawps",
        help="training datasets, mixed in the paper's proportions",
    )
    se.add_argument("--limit", type=int, default=500, help="number of prompts")
    se.add_argument("--seed", type=int, default=0, help="prompt sampling and first sample seed")
    se.add_argument("--popqa", type=Path, default=None, help="path to popQA.tsv (for 'popqa')")
    se.add_argument("--weak", default="qwen-0.5b", help="weak model endpoint (model_a)")
    se.add_argument("--strong", default="qwen-1.5b", help="strong model endpoint (model_b)")
    se.add_argument("--samples", "-k", type=int, default=5, help="samples per prompt (K)")
    se.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    se.add_argument(
        "--top-k", type=int, default=50, help="sample from the k likeliest tokens (0: all)"
    )
    se.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (1.0: off)")
    se.add_argument("--max-tokens-qa", type=int, default=12)
    se.add_argument("--max-tokens-math", type=int, default=8)
    se.add_argument(
        "--reasoning-tokens",
        type=int,
        default=0,
        help="math prompts: 0 (default) asks for the number alone; N > 0 asks for a "
        "step-by-step solution of up to N tokens (as gsm8k_qwen does; 384 there) and "
        "clusters the samples by the number they end on",
    )
    se.add_argument(
        "--nli",
        default="embedding:0.85",
        help="entailment backend: embedding[:THRESHOLD] (default; what the committed set uses), "
        "llm:ENDPOINT (an LLM judge, ~3 s per pair on 2 cores) or mnli:PATH",
    )
    se.add_argument("--endpoints", type=Path, default=None, help="endpoint config (TOML/YAML)")
    se.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads per in-process model (default: 1 when three run at once)",
    )
    se.add_argument(
        "--time-budget-min",
        type=float,
        default=None,
        help="stop taking new prompts after this many minutes; write what is done",
    )
    se.add_argument(
        "--llm-cache",
        type=Path,
        default=None,
        help="LLM call cache (sqlite; default: cache_dir()/llm_cache.sqlite)",
    )
    se.add_argument(
        "--cached-only",
        action="store_true",
        help="label only prompts whose samples are all cached (no generation)",
    )
    se.add_argument(
        "--out",
        type=Path,
        default=None,
        help="label file (.parquet); default: the committed default label set",
    )
    se.add_argument(
        "--responses-out",
        type=Path,
        default=None,
        help="greedy responses file (default: default_responses.parquet beside --out)",
    )
    se.add_argument(
        "--save-every",
        type=int,
        default=25,
        help="write the label file every N new prompts (a killed run loses at most N)",
    )
    se.add_argument(
        "--restart",
        action="store_true",
        help="ignore an existing --out file (default: continue it, skipping its prompts)",
    )
    se.set_defaults(func=_run_se)

    val = sub.add_parser(
        "validate",
        help="AUROC of each SE estimate for the models' own correctness, δ_SE pick rate",
    )
    val.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="SE label file, or a committed set by name (default, mmlu_train, gsm8k_train); "
        "default: the paper's transfer set, `default`",
    )
    val.add_argument(
        "--responses",
        type=Path,
        default=None,
        help="greedy responses file (default: the one written beside --labels)",
    )
    val.add_argument("--tau", type=float, default=0.0, help="δ_SE threshold for the pick rate")
    val.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    val.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    val.add_argument(
        "--part",
        choices=("all", "dev", "test"),
        default="all",
        help="prompts to show: all, or the development / held-out part (split by prompt id)",
    )
    val.add_argument("--json", action="store_true", help="print JSON instead of tables")
    val.add_argument("--no-mlflow", action="store_true", help="do not log a run to MLflow")
    val.set_defaults(func=_run_validate)

    cal = sub.add_parser(
        "calibrate-nli",
        help="the embedding NLI threshold that agrees best with an LLM entailment judge",
    )
    cal.add_argument("--labels", type=Path, default=None, help="SE label file with stored samples")
    cal.add_argument("--pairs", type=int, default=150, help="answer pairs to judge")
    cal.add_argument("--judge", default="llm:qwen-1.5b", help="the reference NLI backend")
    cal.add_argument("--seed", type=int, default=0, help="which pairs are drawn")
    cal.add_argument("--endpoints", type=Path, default=None, help="endpoint config (TOML/YAML)")
    cal.set_defaults(func=_run_calibrate_nli)

    show = sub.add_parser("show", help="label distribution of an SE label file at several τ")
    show.add_argument("file", type=Path, nargs="?", default=None)
    show.add_argument("--tau", type=float, nargs="*", default=[0.0, 0.1, 0.25, 0.5, 1.0])
    show.set_defaults(func=_run_show)


def _run_se(args: argparse.Namespace) -> int:
    import os

    # The models run one llama.cpp thread each, side by side; a torch (embedding / MNLI NLI)
    # pool spinning on the same cores stalls everything (seen: minutes per prompt).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.nli.startswith(("embedding", "mnli")):
        import torch

        torch.set_num_threads(1)
    import pandas as pd

    from harness.errors import ConfigError
    from harness.labels.se.entropy import DEFAULT_ESTIMATOR
    from harness.labels.se.nli import make_nli
    from harness.labels.se.sampling import SamplingConfig
    from harness.labels.se.store import DEFAULT_LABEL_FILE, read_label_file, write_label_files
    from harness.llm.client import LLMClient
    from harness.llm.endpoints import resolve_endpoint
    from harness.paths import data_dir
    from harness.training_data import paper_mix

    # Checked before any model or data loads: one line naming the flag and what is allowed.
    for flag, value, ok, want in (
        ("--limit", args.limit, args.limit >= 1, "at least 1"),
        ("--samples", args.samples, args.samples >= 1, "at least 1"),
        ("--save-every", args.save_every, args.save_every >= 1, "at least 1"),
        ("--temperature", args.temperature, args.temperature >= 0, ">= 0"),
        ("--top-k", args.top_k, args.top_k >= 0, ">= 0 (0: the whole vocabulary)"),
        ("--top-p", args.top_p, 0 < args.top_p <= 1, "in (0, 1]"),
        ("--reasoning-tokens", args.reasoning_tokens, args.reasoning_tokens >= 0, ">= 0"),
    ):
        if not ok:
            raise ConfigError(f"labels se: {flag} {value} is not allowed; want {want}")
    datasets = tuple(d.strip() for d in args.prompts.split(",") if d.strip())
    prompts = paper_mix(
        args.limit, seed=args.seed, datasets=datasets, data_dir=data_dir(), popqa_path=args.popqa
    )
    from harness.llm.cache import LLMCache, default_cache_path

    threads = args.threads or 1
    cache = LLMCache(args.llm_cache or default_cache_path())
    weak = LLMClient(
        resolve_endpoint(args.weak, args.endpoints, n_threads=threads),
        n_threads=threads,
        cache=cache,
    )
    strong = LLMClient(
        resolve_endpoint(args.strong, args.endpoints, n_threads=threads),
        n_threads=threads,
        cache=cache,
    )
    nli = make_nli(args.nli, endpoints_config=args.endpoints, n_threads=threads, cache=cache)
    sampling = SamplingConfig(
        k=args.samples,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        max_tokens_qa=args.max_tokens_qa,
        max_tokens_math=args.max_tokens_math,
        seed=args.seed,
        reasoning_tokens=args.reasoning_tokens,
    )
    out = args.out or DEFAULT_LABEL_FILE
    # What makes two runs' rows comparable; a resumed file must match on all of it.
    settings: dict[str, Any] = {
        "weak": weak.endpoint.public_dict(),
        "strong": strong.endpoint.public_dict(),
        "nli": nli.name,
        "k": args.samples,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "max_tokens_qa": args.max_tokens_qa,
        "max_tokens_math": args.max_tokens_math,
        "seed": args.seed,
        "prompts": list(datasets),
        "reasoning_tokens": args.reasoning_tokens,
    }
    done = pd.DataFrame()
    if out.is_file() and not args.restart:
        done, old_meta = read_label_file(out)
        # Settings added later are read at the value files written before them used.
        changed = {
            k: (old_meta.get(k, _SETTING_BEFORE_IT_EXISTED.get(k)), v)
            for k, v in settings.items()
            if _identity(old_meta.get(k, _SETTING_BEFORE_IT_EXISTED.get(k))) != _identity(v)
        }
        if changed:
            raise ConfigError(
                f"{out} was made with other settings ({', '.join(changed)}: "
                f"{'; '.join(f'{a!r} there, {b!r} now' for a, b in changed.values())}); "
                "pass the same settings to continue it, or --restart / another --out"
            )
        keys = set(zip(done["dataset"], done["row_id"], strict=True))
        todo = [
            (d, str(r)) not in keys
            for d, r in zip(prompts["dataset"], prompts["row_id"], strict=True)
        ]
        print(f"{out}: {len(done)} prompts already labelled; {sum(todo)} to go", flush=True)
        prompts = prompts[todo].reset_index(drop=True)
    from harness.labels.se.pipeline import SE_COLUMNS, run_se_pipeline
    from harness.labels.se.store import responses_from_label_rows

    new_rows: list[dict[str, Any]] = []

    def save(stats: dict[str, Any]) -> list[Path]:
        table = pd.concat([done, pd.DataFrame(new_rows, columns=list(SE_COLUMNS))])
        table = table.drop(columns=["nli_calls"], errors="ignore").reset_index(drop=True)
        meta = {
            **settings,
            "se_kind": DEFAULT_ESTIMATOR,
            "limit": args.limit,
            "prompts_done": len(table),
            **stats,
        }
        return write_label_files(
            table,
            responses_from_label_rows(table),
            out,
            meta=meta,
            responses_out=args.responses_out,
        )

    def on_row(row: dict[str, Any]) -> None:
        new_rows.append(row)
        if len(new_rows) % args.save_every == 0:
            save({"complete": False})

    se, _, stats = run_se_pipeline(
        prompts,
        weak=weak,
        strong=strong,
        nli=nli,
        sampling=sampling,
        time_budget_s=None if args.time_budget_min is None else args.time_budget_min * 60,
        cached_only=args.cached_only,
        on_row=on_row,
    )
    paths = save(
        {
            "complete": not stats.stopped_early and len(done) + len(se) >= args.limit,
            "wall_s": round(stats.wall_s, 1),
            "stopped_early": stats.stopped_early,
            "tokens": stats.tokens,
            "nli_calls": stats.nli_calls,
        }
    )
    from harness.labels.se.labelling import label_distribution

    table, _ = read_label_file(paths[0])
    dist = {
        t: label_distribution(table["se_b"].to_numpy(), table["se_a"].to_numpy(), t)
        for t in (0.0, 0.25, 0.5, 1.0)
    }
    print(
        json.dumps(
            {
                "written": [str(p) for p in paths],
                "prompts": len(table),
                "new_prompts": stats.prompts_done,
                "wall_s": round(stats.wall_s, 1),
                "tokens": stats.tokens,
                "nli_calls": stats.nli_calls,
                "distribution_by_tau": dist,
            },
            indent=1,
        )
    )
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from harness.labels.se.labelling import label_distribution
    from harness.labels.se.store import label_file, read_label_file

    se, meta = read_label_file(label_file(args.file))
    print(
        f"{len(se)} prompts; weak={se['model_a'].iloc[0]} strong={se['model_b'].iloc[0]} "
        f"K={meta.get('k')} nli={meta.get('nli')}"
    )
    for t in args.tau:
        d = label_distribution(se["se_b"].to_numpy(), se["se_a"].to_numpy(), t)
        print(f"tau={t:<6} strong={d['strong']:<5} weak={d['weak']:<5} tie={d['tie']}")
    return 0


_SETTING_BEFORE_IT_EXISTED: dict[str, Any] = {"reasoning_tokens": 0}


def _identity(value: Any) -> Any:
    """What makes an endpoint the same model across runs: its name and model, not where it
    was served (a local server's port, a model file's folder)."""
    if isinstance(value, dict):
        return {k: value.get(k) for k in ("name", "model")}
    return value


def _run_validate(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from harness.labels.se.store import label_file
    from harness.labels.se.validity import validate_labels
    from harness.paths import data_dir

    if args.n_boot < 1:
        raise ConfigError(f"--n-boot must be at least 1, got {args.n_boot}")
    if args.tau < 0:
        raise ConfigError(f"--tau must be >= 0, got {args.tau}")
    labels = label_file(args.labels)
    report = validate_labels(
        labels,
        data_dir(),
        responses=args.responses,
        tau=args.tau,
        n_boot=args.n_boot,
        seed=args.seed,
    )
    aurocs = report.auroc[report.auroc["part"] == args.part]
    picks = report.picks[report.picks["part"] == args.part]
    if not args.no_mlflow:
        _log_validity(report, labels, args)
    if args.json:
        print(
            json.dumps(
                {
                    "meta": report.meta,
                    "auroc": aurocs.to_dict(orient="records"),
                    "picks": picks.to_dict(orient="records"),
                },
                indent=1,
                default=str,
            )
        )
        return 0
    m = report.meta
    print(
        f"{labels.name}: {m['n_prompts']} prompts, weak={m['weak_model']} "
        f"strong={m['strong_model']}; {m['decoding']}; prompts: {args.part}"
    )
    print("\nAUROC of −estimate for the model's own correctness [95 % bootstrap CI]")
    wide = aurocs.assign(
        cell=[
            f"{a:.3f} [{lo:.2f}, {hi:.2f}]"
            for a, lo, hi in zip(aurocs["auroc"], aurocs["ci_low"], aurocs["ci_high"], strict=True)
        ]
    ).pivot_table(
        index=["role", "dataset", "n", "accuracy"]
        + (["sample_accuracy"] if aurocs["sample_accuracy"].notna().any() else []),
        columns="estimator",
        values="cell",
        aggfunc="first",
        sort=False,
    )
    print(wide.to_string())
    print(f"\nδ_SE label (τ = {args.tau}) names the only correct model [95 % CI]")
    for row in picks.itertuples():
        print(
            f"  {row.estimator:<10} {row.picks_right:.3f} [{row.ci_low:.2f}, {row.ci_high:.2f}]"
            f"  of {row.n_one_right} prompts where exactly one model is right"
        )
    return 0


def _log_validity(report: Any, labels: Path, args: argparse.Namespace) -> None:
    """One MLflow run in the ``label-validity`` experiment: AUROCs as metrics, both tables."""
    import mlflow

    from harness.tracking import parent_run

    params = {**report.meta, "tau": args.tau, "n_boot": args.n_boot, "bootstrap_seed": args.seed}
    with parent_run(f"SE label validity · {labels.name}", params, experiment="label-validity"):
        metrics = {
            f"auroc.{r.part}.{r.role}.{r.dataset}.{r.estimator}": r.auroc
            for r in report.auroc.itertuples()
            if r.auroc == r.auroc
        }
        metrics.update(
            {
                f"sample_accuracy.{r.role}.{r.dataset}": r.sample_accuracy
                for r in report.auroc.itertuples()
                if r.part == "all" and r.sample_accuracy == r.sample_accuracy
            }
        )
        metrics.update(
            {
                f"picks_right.{r.part}.{r.estimator}": r.picks_right
                for r in report.picks.itertuples()
                if r.picks_right == r.picks_right
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_table(report.auroc, "se_validity_auroc.json")
        mlflow.log_table(report.picks, "se_validity_picks.json")


def _run_calibrate_nli(args: argparse.Namespace) -> int:
    from harness.errors import ConfigError
    from harness.labels.se.nli import make_nli
    from harness.labels.se.nli_calibration import answer_pairs, calibrate_threshold
    from harness.labels.se.source import joined_label_table
    from harness.labels.se.store import label_file
    from harness.llm.cache import LLMCache, default_cache_path
    from harness.paths import data_dir

    if args.pairs < 10:
        raise ConfigError(f"--pairs must be at least 10, got {args.pairs}")
    labels = label_file(args.labels)
    table, _ = joined_label_table(labels, data_dir())
    if "samples_a" not in table.columns:
        raise ConfigError(
            f"{labels} stores no sampled answers (written before they were kept); "
            "rebuild it with `routerlab labels se`"
        )
    pairs = answer_pairs(table, args.pairs, seed=args.seed)
    judge = make_nli(
        args.judge,
        endpoints_config=args.endpoints,
        cache=LLMCache(default_cache_path()),
        progress=True,
    )
    result = calibrate_threshold(pairs, judge)
    print(
        f"{result.n_pairs} answer pairs from {labels.name}; the judge {args.judge} calls "
        f"{result.judge_equivalent_share:.0%} of them equivalent (entailment both ways)"
    )
    shown = result.table[
        result.table["threshold"].isin(
            [round(x, 2) for x in (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, result.best_threshold)]
        )
    ]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(result.advice())
    return 0
