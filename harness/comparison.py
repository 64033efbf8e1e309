"""Paired comparisons of two routers on one benchmark, from their per-prompt scores.

:func:`compare_scores` aligns two score tables by prompt id (two runs can have scored
slightly different prompts: decontamination drops different ones for different training
sets; only prompts both scored are compared, and the count is reported) and runs
:func:`harness.metrics.paired_bootstrap`: the same resampled prompts for both routers, so
the 95 % interval is that of the difference CPT(a) − CPT(b).
:func:`compare_runs` does the same for two tracked MLflow runs (``routerlab compare``).
:func:`compare_pairs` pools several such pairs (two label sources, router for router) into
one mean difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import metrics as M
from harness.errors import DataError
from harness.records import Benchmark


@dataclass(frozen=True)
class Comparison:
    """CPT(a) − CPT(b) on the prompts both runs scored.

    Attributes:
        benchmark: the benchmark's name.
        n: prompts compared; n_only_a / n_only_b: prompts only one of the two scored.
        cpt_a / cpt_b: each router's CPT per percentage on the compared prompts.
        difference: the paired bootstrap of the difference.
    """

    benchmark: str
    n: int
    n_only_a: int
    n_only_b: int
    cpt_a: dict[float, float]
    cpt_b: dict[float, float]
    difference: M.PairedDifference


def _aligned(
    benchmark: Benchmark, tables: Sequence[pd.DataFrame]
) -> tuple[list[pd.Series], int, np.ndarray, np.ndarray, list[np.ndarray]]:
    """``prompt_id, score`` tables on the prompts all of them scored: (each table's scores by
    prompt id, that prompt count, weak and strong outcomes there, each table's scores there)."""
    index = {pid: i for i, pid in enumerate(benchmark.prompt_ids)}
    series = [t.drop_duplicates("prompt_id").set_index("prompt_id")["score"] for t in tables]
    unknown = [p for x in series for p in x.index if p not in index]
    if unknown:
        raise DataError(
            f"{len(unknown)} scored prompt ids are not in benchmark {benchmark.name!r} (first: "
            f"{unknown[0]!r}); were the runs made on another benchmark or data version?"
        )
    common = [p for p in benchmark.prompt_ids if all(p in x.index for x in series)]
    if len(common) < 2:
        raise DataError(f"the runs share {len(common)} scored prompts of {benchmark.name!r}")
    rows = np.array([index[p] for p in common])
    scores = [x.reindex(common).to_numpy(dtype=float) for x in series]
    return series, len(common), benchmark.weak_score[rows], benchmark.strong_score[rows], scores


def compare_scores(
    benchmark: Benchmark,
    scores_a: pd.DataFrame,
    scores_b: pd.DataFrame,
    *,
    pcts: Sequence[float] = (50.0, 80.0),
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """Paired comparison of two ``prompt_id, score`` tables on ``benchmark``'s outcomes."""
    (a, b), n, w, t, (sa, sb) = _aligned(benchmark, [scores_a, scores_b])
    diff = M.paired_bootstrap(sa, sb, w, t, pcts=pcts, n_boot=n_boot, seed=seed)
    curve_a, curve_b = (M.call_performance_curve(s, w, t) for s in (sa, sb))
    return Comparison(
        benchmark=benchmark.name,
        n=n,
        n_only_a=int(len(a) - n),
        n_only_b=int(len(b) - n),
        cpt_a={float(p): M.cpt(curve_a, p) for p in pcts},
        cpt_b={float(p): M.cpt(curve_b, p) for p in pcts},
        difference=diff,
    )


def compare_pairs(
    benchmark: Benchmark,
    pairs: Sequence[tuple[pd.DataFrame, pd.DataFrame]],
    *,
    pcts: Sequence[float] = (50.0, 80.0),
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[int, M.PairedDifference]:
    """The mean paired difference over ``pairs`` of ``prompt_id, score`` tables
    (:func:`harness.metrics.paired_mean_difference`) on the prompts every table scored;
    returns (that prompt count, the difference)."""
    _, n, w, t, scores = _aligned(benchmark, [table for pair in pairs for table in pair])
    arrays = list(zip(scores[::2], scores[1::2], strict=True))
    return n, M.paired_mean_difference(arrays, w, t, pcts=pcts, n_boot=n_boot, seed=seed)


@dataclass(frozen=True)
class RunInfo:
    """What identifies a tracked evaluation run in a comparison."""

    run_id: str
    system: str
    router: str
    label_source: str
    protocol: str
    benchmark: str
    benchmark_file: str | None


def run_info(run_id: str) -> RunInfo:
    """The tags and params of an evaluation run, or a DataError naming the id."""
    from harness.tracking import client

    try:
        run = client().get_run(run_id)
    except Exception:  # MLflow raises its own exception types for unknown ids
        raise DataError(f"no MLflow run {run_id!r} in the tracking store") from None
    tags, params = run.data.tags, run.data.params
    benchmark = tags.get("routerlab.benchmark") or params.get("benchmark")
    if not benchmark:
        raise DataError(f"MLflow run {run_id} is not an evaluation run (no benchmark tag)")
    return RunInfo(
        run_id=run_id,
        system=tags.get("routerlab.system", "?"),
        router=tags.get("routerlab.router", "?"),
        label_source=tags.get("routerlab.label_source", "none"),
        protocol=tags.get("routerlab.protocol", "transfer"),
        benchmark=benchmark,
        benchmark_file=params.get("benchmark_file"),
    )


def compare_runs(
    run_a: str,
    run_b: str,
    *,
    data_dir: Path | None = None,
    pcts: Sequence[float] = (50.0, 80.0),
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[RunInfo, RunInfo, Comparison]:
    """Paired comparison of two tracked runs on the benchmark they share."""
    from harness.benchmarks import load_benchmark
    from harness.evaluation import load_scores

    info_a, info_b = run_info(run_a), run_info(run_b)
    if info_a.benchmark != info_b.benchmark:
        raise DataError(
            f"run {run_a} is on {info_a.benchmark!r} and run {run_b} on {info_b.benchmark!r}; "
            "compare two runs on the same benchmark"
        )
    benchmark = load_benchmark(info_a.benchmark_file or info_a.benchmark, data_dir)
    result = compare_scores(
        benchmark, load_scores(run_a), load_scores(run_b), pcts=pcts, n_boot=n_boot, seed=seed
    )
    return info_a, info_b, result
