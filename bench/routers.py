"""Fit time, score latency and peak memory of every router at 12,000 training rows.

    nice -n 10 python bench/routers.py            # real prompts, real embeddings
    nice -n 10 python bench/routers.py --random   # random unit vectors instead

Data. Training rows are 12,000 real training prompts: all of NQ-open (3,610), TriviaQA
(2,000) and MAWPS (2,373), topped up from GSM8K train. The queries are the 14,037 MMLU
benchmark prompts. Both are embedded with all-MiniLM-L6-v2 (384-d) through the disk cache, so
the first run embeds whatever is missing. The labels are synthetic, because timing does not
depend on them: y = 1 where a fixed random direction has a positive dot product with the
embedding, else 0, and 30 % of rows are turned into ties.

Each router runs in its own fresh process (spawned), so one router's memory cannot count
against another. "peak MB" is the growth of the process's peak resident set (VmHWM, reset just
before fitting) over its resident set at that moment, so it covers fit and scoring (torch is
imported before the reset: loading the library is not counted).
"score µs/query" is one ``score()`` call on all queries divided by their number;
"1-query µs" is the median over 200 calls that each score a single query with one BLAS
thread (online routing).

Baseline, measured in the same run: RouteLLM's own way of scoring with SW. For each query
separately it computes the similarities, then fits scikit-learn's ``LogisticRegression`` on
the battles duplicated with their weights (``compute_elo_mle_with_tie``). The ratio column
is that baseline's µs/query divided by each router's. Targets (issue 3): kNN, MLP and MF below
50 µs/query, SW below 1 ms/query.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, this file's folder comes first on sys.path, and this file's name would
# shadow the `routers` package: drop the folder.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

ROUTERS: list[tuple[str, dict[str, Any], float | None]] = [
    ("sw_ranking", {}, 1000.0),
    ("knn", {"k": 1}, 50.0),
    ("knn", {"k": 10}, 50.0),
    ("mlp", {}, 50.0),
    ("mf", {}, 50.0),
    ("random", {}, None),
]


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _measure(args: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Child process: fit and score one router on the saved arrays."""
    data_path, name, params = args
    from harness.plugins import ROUTERS as REGISTRY

    data = np.load(data_path)
    X, y, Xq = data["X"], data["y"], data["Xq"]
    router = REGISTRY.get(name)(**params)
    import torch  # noqa: F401  (library load is not the router's memory; kNN k>1 and MLP/MF use it)

    reset = _reset_peak()
    rss_before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    router.fit(X, y)
    t1 = time.perf_counter()
    scores = router.score(Xq)
    t2 = time.perf_counter()
    peak_mb = (_status_kb("VmHWM") - rss_before) / 1024 if reset else math.nan
    single = []
    # One query at a time is latency-bound: one BLAS thread, as a routing server would use.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        for i in range(200):
            s = time.perf_counter()
            router.score(Xq[i : i + 1])
            single.append(time.perf_counter() - s)
    assert scores.shape == (len(Xq),) and np.isfinite(scores).all()
    return {
        "fit_s": t1 - t0,
        "score_us": (t2 - t1) / len(Xq) * 1e6,
        "single_us": float(np.median(single)) * 1e6,
        "peak_mb": peak_mb,
    }


def _routellm_sw_naive(X: np.ndarray, y: np.ndarray, Xq: np.ndarray, gamma: float) -> np.ndarray:
    """RouteLLM's per-query SW: weights, then a weighted LogisticRegression per query."""
    from sklearn.linear_model import LogisticRegression

    sign = np.where(np.arange(len(y)) % 2 == 0, 1.0, -1.0)  # strong on side A every other row
    a_won = np.where(sign > 0, y == 1.0, y == 0.0)
    tie = y == 0.5
    design = np.concatenate([np.stack([sign, -sign], 1)] * 2) * math.log(10)
    target = np.concatenate([a_won | tie, a_won]).astype(float)
    out = np.empty(len(Xq))
    for i, q in enumerate(Xq):
        sims = X @ q
        weights = gamma * gamma ** (sims / sims.max())
        lr = LogisticRegression(fit_intercept=False, C=np.inf)
        lr.fit(design, target, sample_weight=np.concatenate([weights, weights]))
        strong, weak = lr.coef_[0]
        out[i] = 1.0 / (1.0 + 10 ** (weak - strong))
    return out


def _real_data(n_train: int, n_query: int) -> tuple[np.ndarray, np.ndarray]:
    from harness.benchmarks import load_benchmark
    from harness.embeddings import embed
    from harness.training_data import load_dataset

    prompts: list[str] = []
    for name in ("nq_open", "triviaqa", "mawps", "gsm8k_train"):
        prompts += load_dataset(name)["prompt"].tolist()
    prompts = prompts[:n_train]
    queries = load_benchmark("mmlu").prompts[:n_query]
    return embed(prompts), embed(queries)


def _random_data(n_train: int, n_query: int, dim: int = 384) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        x = rng.normal(size=(n, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return unit(n_train), unit(n_query)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=12_000)
    parser.add_argument("--n-query", type=int, default=14_042)
    parser.add_argument("--random", action="store_true", help="random unit vectors, not prompts")
    parser.add_argument("--naive-queries", type=int, default=20,
                        help="queries timed for the per-query RouteLLM SW baseline")
    args = parser.parse_args(argv)

    X, Xq = _random_data(args.n_train, args.n_query) if args.random else _real_data(
        args.n_train, args.n_query
    )
    rng = np.random.default_rng(1)
    y = (X @ rng.normal(size=X.shape[1]) > 0).astype(np.float64)
    y[rng.random(len(y)) < 0.3] = 0.5
    source = "random unit vectors" if args.random else "real prompts (MiniLM-L6 embeddings)"
    print(f"data: {len(X)} training rows, {len(Xq)} queries, {X.shape[1]}-d, {source}; "
          f"synthetic labels ({int((y == 0.5).sum())} ties); {os.cpu_count()} CPUs")

    t0 = time.perf_counter()
    _routellm_sw_naive(X, y, Xq[: args.naive_queries], gamma=10.0)
    naive_us = (time.perf_counter() - t0) / args.naive_queries * 1e6

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data.npz")
        np.savez(path, X=X, y=y, Xq=Xq)
        ctx = mp.get_context("spawn")
        for name, params, target in ROUTERS:
            with ctx.Pool(1) as pool:
                result = pool.apply(_measure, ((path, name, params),))
            rows.append((name, params, target, result))

    header = (f"{'router':<10} {'params':<16} {'fit s':>8} {'score µs/query':>15} "
              f"{'1-query µs':>11} {'peak MB':>8} {'target µs':>10} {'meets':>6} "
              f"{'× vs naive SW':>14}")
    print(header)
    print("-" * len(header))
    print(f"{'sw naive':<10} {'loop':<16} {0.0:>8.2f} {naive_us:>15.1f} {naive_us:>11.1f} "
          f"{'':>8} {'':>10} {'':>6} {1.0:>14.1f}")
    for name, params, target, r in rows:
        shown = ",".join(f"{k}={v}" for k, v in params.items()) or "default"
        meets = "" if target is None else ("yes" if r["score_us"] < target else "NO")
        print(f"{name:<10} {shown:<16} {r['fit_s']:>8.2f} {r['score_us']:>15.2f} "
              f"{r['single_us']:>11.1f} {r['peak_mb']:>8.1f} "
              f"{'' if target is None else f'{target:.0f}':>10} {meets:>6} "
              f"{naive_us / r['score_us']:>14.0f}")
    print("(sw naive: RouteLLM-style per-query weighted LogisticRegression, "
          f"{args.naive_queries} queries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
