"""Speed of the vectorised bootstrap (harness.metrics.bootstrap) against a per-resample loop.

Run: ``python bench/metrics.py`` (needs ROUTERLAB_DATA_DIR). Both run in this process on
MMLU (14,037 prompts) with random scores; the loop builds each resample's curve with
``call_performance_curve`` (a sort per resample), the way a straightforward implementation
would. Prints seconds per 1,000 resamples and the speed-up ratio, and checks both agree.
"""

from __future__ import annotations

import time

import numpy as np

from harness import metrics as M
from harness.benchmarks import load_benchmark


def naive(
    scores: np.ndarray, weak: np.ndarray, strong: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    by_rank = np.argsort(-scores, kind="stable")  # bootstrap() draws over these ranks
    out = []
    for c in counts:
        idx = np.repeat(by_rank, c)
        curve = M.call_performance_curve(scores[idx], weak[idx], strong[idx])
        out.append([M.cpt(curve, p) for p in M.DEFAULT_PCTS])
    return np.array(out)


def main() -> None:
    b = load_benchmark("mmlu")
    scores = np.random.default_rng(0).random(len(b))
    n_naive, n_fast = 50, 1000

    t0 = time.perf_counter()
    counts = M._resample_counts(np.random.default_rng(1), len(b), n_naive)
    slow = naive(scores, b.weak_score, b.strong_score, counts)
    naive_s = (time.perf_counter() - t0) * 1000 / n_naive

    t0 = time.perf_counter()
    fast = M.bootstrap(scores, b.weak_score, b.strong_score, n_boot=n_fast, seed=1)
    fast_s = (time.perf_counter() - t0) * 1000 / n_fast

    agree = np.allclose(fast.cpt[:n_naive], slow, atol=1e-9)
    print(f"MMLU n={len(b)}: per-resample loop {naive_s:.2f} s / 1000 resamples, "
          f"vectorised {fast_s:.2f} s / 1000 resamples, ratio {naive_s / fast_s:.1f}x, "
          f"same CPTs: {agree}")


if __name__ == "__main__":
    main()
