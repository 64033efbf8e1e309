"""Curves, CPT, APGR/AUC, oracle, RouteLLM grid and bootstrap: by hand and on the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import metrics as M
from harness.benchmarks import load_benchmark
from harness.records import Benchmark
from routers.random import RandomRouter

# -- hand-computed tiny benchmarks ---------------------------------------------------------------


def test_curve_with_ties_by_hand() -> None:
    # Prompts 0 and 1 tie (0.9): they move to the strong model together.
    scores = np.array([0.9, 0.9, 0.5, 0.1])
    weak = np.array([0.0, 1.0, 0.0, 1.0])
    strong = np.array([1.0, 0.0, 1.0, 1.0])
    c = M.call_performance_curve(scores, weak, strong)
    np.testing.assert_allclose(c.share, [0.0, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(c.quality, [0.5, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(c.threshold, [np.inf, 0.9, 0.5, 0.1])
    assert (c.weak, c.strong) == (0.5, 0.75)
    # CPT(20): target 0.55, first reached on the segment (0.5, 0.5) -> (0.75, 0.75).
    assert M.cpt(c, 20) == pytest.approx(55.0)
    assert M.cpt(c, 20, interpolate=False) == pytest.approx(75.0)
    assert M.cpt(c, 100) == pytest.approx(75.0)
    assert M.cpt(c, 0) == 0.0
    # AUC by trapezoids: 0.5*0.5 + 0.25*0.625 + 0.25*0.75
    assert M.auc(c) == pytest.approx(0.25 + 0.15625 + 0.1875)
    assert M.apgr(c) == pytest.approx((0.59375 - 0.5) / 0.25)


def test_non_monotone_curve_uses_first_crossing() -> None:
    # gains in score order: +1, -1, +1, 0 -> quality .5, .75, .5, .75, .75 (dips after 25 %)
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    weak = np.array([0.0, 1.0, 0.0, 1.0])
    strong = np.array([1.0, 0.0, 1.0, 1.0])
    c = M.call_performance_curve(scores, weak, strong)
    np.testing.assert_allclose(c.quality, [0.5, 0.75, 0.5, 0.75, 0.75])
    assert M.cpt(c, 50) == pytest.approx(12.5)
    assert M.cpt(c, 50, interpolate=False) == pytest.approx(25.0)
    assert M.cpt(c, 100) == pytest.approx(25.0)


def test_all_equal_scores_is_the_random_line() -> None:
    weak = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    strong = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
    c = M.call_performance_curve(np.full(5, 0.3), weak, strong)
    np.testing.assert_allclose(c.share, [0.0, 1.0])
    np.testing.assert_allclose(c.quality, [0.4, 0.8])
    for p in (20, 50, 80):
        assert M.cpt(c, p) == pytest.approx(p)
        assert M.cpt(c, p, interpolate=False) == pytest.approx(100.0)
    assert M.apgr(c) == pytest.approx(0.5)
    line = M.random_curve(0.4, 0.8)
    assert M.cpt(line, 37) == pytest.approx(37)


def test_strong_not_better_gives_zero_cpt_and_nan_apgr() -> None:
    same = np.array([1.0, 0.0, 1.0])
    c = M.call_performance_curve([0.1, 0.2, 0.3], same, same)
    assert M.cpt(c, 50) == 0.0
    assert np.isnan(M.apgr(c))
    worse = M.call_performance_curve([0.1, 0.2, 0.3], np.ones(3), np.zeros(3))
    assert M.cpt(worse, 80) == 0.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        M.call_performance_curve([0.1, np.nan], np.zeros(2), np.ones(2))
    with pytest.raises(ValueError):
        M.call_performance_curve([0.1], np.zeros(2), np.ones(2))
    with pytest.raises(ValueError):
        M.call_performance_curve([], np.zeros(0), np.zeros(0))
    c = M.call_performance_curve([0.1, 0.2], np.zeros(2), np.ones(2))
    with pytest.raises(ValueError):
        M.cpt(c, 120)


def test_oracle_is_the_floor() -> None:
    rng = np.random.default_rng(3)
    weak = rng.integers(0, 2, 300).astype(float)
    strong = rng.integers(0, 2, 300).astype(float)
    strong[:60] = 1.0
    oracle = M.call_performance_curve(M.oracle_scores(weak, strong), weak, strong)
    assert oracle.quality.max() == pytest.approx(M.oracle_quality(weak, strong))
    for seed in range(20):
        c = M.call_performance_curve(np.random.default_rng(seed).random(300), weak, strong)
        for p in (20, 50, 80):
            assert M.cpt(oracle, p) <= M.cpt(c, p) + 1e-9


# -- RouteLLM's grid ---------------------------------------------------------------------------


def routellm_reference(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> pd.DataFrame:
    """RouteLLM's evaluate loop (benchmarks.py + evaluate.py), rewritten in pandas."""
    _, thresholds = pd.qcut(scores, 10, retbins=True)
    rows = []
    for i, threshold in enumerate(thresholds):
        selection = scores >= threshold if i != len(thresholds) - 1 else scores > threshold
        results = np.where(selection, strong, weak)
        rows.append({"strong_percentage": selection.sum() / len(scores) * 100,
                     "accuracy": results.sum() / len(results) * 100})
    return pd.DataFrame(rows).sort_values(by=["strong_percentage"])


def test_routellm_grid_matches_routellm_code() -> None:
    rng = np.random.default_rng(7)
    n = 503
    scores = rng.random(n)
    weak = rng.integers(0, 2, n).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, n)).astype(float)
    ref = routellm_reference(scores, weak, strong)
    c = M.call_performance_curve(scores, weak, strong, grid="routellm")
    assert len(c) == 11
    np.testing.assert_allclose(c.share * 100, ref["strong_percentage"].to_numpy())
    np.testing.assert_allclose(c.quality * 100, ref["accuracy"].to_numpy())
    w, s = weak.mean() * 100, strong.mean() * 100
    for p in (20, 50, 80):
        expected = np.interp(p / 100 * (s - w) + w, ref["accuracy"], ref["strong_percentage"])
        assert M.cpt(c, p) == pytest.approx(expected, abs=1e-9)
    auc_ref = np.trapezoid(ref["accuracy"], ref["strong_percentage"] / 100)
    assert M.auc(c) * 100 == pytest.approx(auc_ref)
    assert M.apgr(c) == pytest.approx((auc_ref - w) / (s - w))


# -- bootstrap -------------------------------------------------------------------------------------


def test_bootstrap_matches_a_naive_loop() -> None:
    rng = np.random.default_rng(11)
    n = 157
    scores = np.round(rng.random(n), 1)  # many ties
    weak = rng.integers(0, 2, n).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, n)).astype(float)
    res = M.bootstrap(scores, weak, strong, n_boot=40, seed=5, chunk_size=7)
    # Resamples are drawn per prompt, in the prompts' own order.
    counts = M._resample_counts(np.random.default_rng(5), n, 40)
    for r in range(40):
        idx = np.repeat(np.arange(n), counts[r])
        c = M.call_performance_curve(scores[idx], weak[idx], strong[idx])
        expected = [M.cpt(c, p) for p in (20, 50, 80)]
        np.testing.assert_allclose(res.cpt[r], expected, atol=1e-9)
        assert res.apgr[r] == pytest.approx(M.apgr(c))
    # Chunking does not change the draws.
    again = M.bootstrap(scores, weak, strong, n_boot=40, seed=5, chunk_size=40)
    np.testing.assert_array_equal(res.cpt, again.cpt)


def test_bootstrap_ci_is_seeded_and_contains_estimate(data_dir: Path) -> None:
    b = load_benchmark("gsm8k", data_dir)
    scores = RandomRouter(seed=1).score(np.zeros((len(b), 0)))
    ci1 = M.bootstrap_cpt_ci(scores, b.weak_score, b.strong_score, n_boot=300, seed=42)
    ci2 = M.bootstrap_cpt_ci(scores, b.weak_score, b.strong_score, n_boot=300, seed=42)
    ci3 = M.bootstrap_cpt_ci(scores, b.weak_score, b.strong_score, n_boot=300, seed=43)
    assert ci1 == ci2
    assert ci1 != ci3
    c = M.call_performance_curve(scores, b.weak_score, b.strong_score)
    for p, (lo, hi) in ci1.items():
        assert lo < M.cpt(c, p) < hi
        assert hi - lo < 20


def test_routellm_grid_bootstrap_runs() -> None:
    rng = np.random.default_rng(0)
    weak = rng.integers(0, 2, 200).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, 200)).astype(float)
    scores = rng.random(200)
    res = M.bootstrap(scores, weak, strong, n_boot=30, seed=1, grid="routellm")
    assert res.cpt.shape == (30, 3)
    lo, hi = res.cpt_ci(50)
    assert 0 <= lo <= hi <= 100


# -- the checks on the shared data ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["gsm8k", "mmlu"])
def test_random_router_cpt_is_x(name: str, data_dir: Path) -> None:
    b = load_benchmark(name, data_dir)
    cpts = []
    for seed in range(20):  # one draw scatters by ~3 points on GSM8K; the mean of 20 by <1
        scores = RandomRouter(seed=seed).score(np.zeros((len(b), 0)))
        c = M.call_performance_curve(scores, b.weak_score, b.strong_score)
        cpts.append([M.cpt(c, 50), M.cpt(c, 80)])
    cpt50, cpt80 = np.mean(cpts, axis=0)
    assert abs(cpt50 - 50) <= 3
    assert abs(cpt80 - 80) <= 3


@pytest.mark.parametrize(("name", "limit"), [("gsm8k", 12.0), ("mmlu", 7.0)])
def test_oracle_cpt50(name: str, limit: float, data_dir: Path) -> None:
    b = load_benchmark(name, data_dir)
    c = M.call_performance_curve(
        M.oracle_scores(b.weak_score, b.strong_score), b.weak_score, b.strong_score
    )
    assert 0 < M.cpt(c, 50) < limit


def test_summarize_keys_and_values(data_dir: Path) -> None:
    b = load_benchmark("mt_bench", data_dir)
    scores = RandomRouter(seed=0).score(np.zeros((len(b), 0)))
    m = M.summarize(scores, b, n_boot=100, seed=0)
    for key in ("cpt_20", "cpt_50", "cpt_80", "cpt_50_lo", "cpt_50_hi", "apgr", "apgr_lo",
                "auc", "weak", "strong", "oracle", "oracle_cpt_50", "n"):
        assert key in m
    assert m["n"] == 72
    assert m["weak"] == pytest.approx(8.28125)
    assert m["oracle"] >= m["strong"]
    assert m["oracle_cpt_50"] <= m["cpt_50"]
    r = M.summarize(scores, b, grid="routellm", n_boot=50, seed=0)
    assert r["n_points"] == 11
    assert r["oracle_cpt_50"] == pytest.approx(m["oracle_cpt_50"])  # oracle: exact grid


# -- paired bootstrap ---------------------------------------------------------------------------


def _bench(weak: np.ndarray, strong: np.ndarray) -> Benchmark:
    n = len(weak)
    return Benchmark("synthetic", [str(i) for i in range(n)], [f"p{i}" for i in range(n)],
                     np.asarray(weak, float), np.asarray(strong, float), "weak", "strong")


def test_paired_bootstrap_agrees_with_the_hand_computed_two_prompt_case() -> None:
    """Prompt 0: only the strong model is right (gain 1); prompt 1: both are (gain 0).
    Router a ranks prompt 0 first, router b prompt 1. Resamples of two prompts: {0, 0} and
    {1, 1} (probability 1/4 each) give both routers the same CPT, difference 0; {0, 1}
    (probability 1/2) gives a CPT(50) of 25 (half of the first call reaches half the gain)
    and b 75: difference −50. By hand: P(diff = −50) = 1/2, the 95 % interval [−50, 0],
    and on the data as it is the difference is −50. Against the random router the point
    difference is 25 − 50 = −25."""
    weak, strong = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    res = M.paired_bootstrap([1.0, 0.0], [0.0, 1.0], weak, strong, pcts=(50,), n_boot=4000,
                           seed=3)
    values = res.diff[:, 0]
    assert set(np.round(values, 9)) <= {0.0, -50.0}
    assert abs(float((values == -50.0).mean()) - 0.5) < 0.03
    assert res.point == (-50.0,)
    assert res.ci(50) == (-50.0, 0.0)
    assert not res.a_better(50)  # the interval reaches 0: not better with 95 % confidence
    vs_random = M.paired_bootstrap([1.0, 0.0], None, weak, strong, pcts=(50,), n_boot=4000,
                                 seed=3)
    assert vs_random.point == (-25.0,)
    # on {0, 1} a random order is a's (25) or b's (75) with equal chance: diff −50 + {0, 50}
    assert set(np.round(vs_random.diff[:, 0], 9)) <= {0.0, -50.0, 25.0 - 75.0 + 50.0}


def test_paired_bootstrap_separates_a_good_router_from_random_and_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    n = 600
    weak = rng.integers(0, 2, n).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, n)).astype(float)
    good = (strong - weak) + 0.3 * rng.random(n)
    noise = rng.random(n)
    ab = M.paired_bootstrap(good, noise, weak, strong, n_boot=300, seed=1)
    ba = M.paired_bootstrap(noise, good, weak, strong, n_boot=300, seed=1)
    assert np.allclose(ab.diff, -ba.diff)  # the same resamples for both routers
    assert ab.a_better(50) and ab.a_better(80)
    assert M.paired_bootstrap(good, None, weak, strong, n_boot=300, seed=1).a_better(50)
    metrics = M.summarize(good, _bench(weak, strong), n_boot=200)
    assert metrics["beats_random_50"] == 1.0 and metrics["diff_random_cpt_50_hi"] < 0
    # a random router does not beat random (its interval straddles 0)
    metrics = M.summarize(noise, _bench(weak, strong), n_boot=200)
    assert metrics["beats_random_50"] == 0.0
    assert metrics["diff_random_cpt_50_lo"] < 0 < metrics["diff_random_cpt_50_hi"]


def test_paired_mean_difference_pools_routers_on_the_same_resamples() -> None:
    rng = np.random.default_rng(2)
    n = 500
    weak = rng.integers(0, 2, n).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, n)).astype(float)
    gain = strong - weak
    # labels a: each router sees the gain through its own noise; labels b: pure noise
    a = [gain + s * rng.random(n) for s in (0.6, 0.9, 1.2)]
    b = [rng.random(n) for _ in range(3)]
    one = M.paired_mean_difference([(a[0], b[0])], weak, strong, n_boot=200, seed=4)
    alone = M.paired_bootstrap(a[0], b[0], weak, strong, n_boot=200, seed=4)
    assert one.point == pytest.approx(alone.point) and np.allclose(one.diff, alone.diff)
    pairs = list(zip(a, b, strict=True))
    pooled = M.paired_mean_difference(pairs, weak, strong, n_boot=200, seed=4)
    singles = [M.paired_bootstrap(x, y, weak, strong, n_boot=200, seed=4) for x, y in pairs]
    assert pooled.point == pytest.approx(tuple(np.mean([s.point for s in singles], axis=0)))
    assert np.allclose(pooled.diff, np.mean([s.diff for s in singles], axis=0))
    assert pooled.a_better(50)
    # two sets of uninformed routers: the mean difference straddles 0
    c = [rng.random(n) for _ in range(3)]
    null = M.paired_mean_difference(list(zip(b, c, strict=True)), weak, strong, n_boot=200)
    assert null.ci(50)[0] < 0 < null.ci(50)[1]
    with pytest.raises(ValueError, match="at least one"):
        M.paired_mean_difference([], weak, strong)


def test_constant_scores_are_flagged_and_get_no_interval() -> None:
    weak, strong = np.array([0.0, 1.0, 0.0, 1.0] * 25), np.ones(100)
    metrics = M.summarize(np.full(100, 0.5), _bench(weak, strong), n_boot=100)
    assert metrics["constant_scores"] == 1.0
    assert metrics["cpt_50"] == 50.0 and np.isnan(metrics["cpt_50_lo"])
    assert "beats_random_50" not in metrics
    nearly = np.r_[np.full(97, 0.5), [0.1, 0.2, 0.3]]
    assert M.is_degenerate(nearly) and not M.is_degenerate(np.linspace(0, 1, 100))


def test_ci_and_paired_bootstrap_share_their_resamples() -> None:
    """With one seed the CI bootstrap and the paired comparison draw the same resamples, so
    summarize hands the CI replicates to the comparison; the random side is computed once
    per benchmark. Both shortcuts give exactly what the full computation gives."""
    rng = np.random.default_rng(1)
    n = 800
    w = (rng.random(n) < 0.6).astype(float)
    t = (rng.random(n) < 0.8).astype(float)
    s = rng.random(n) + 0.3 * (t - w)
    boot = M.bootstrap(s, w, t, pcts=(20, 50, 80), n_boot=300, seed=3)
    M._RANDOM_REPLICATES.clear()
    full = M.paired_bootstrap(s, None, w, t, pcts=(20, 50, 80), n_boot=300, seed=3)
    assert len(M._RANDOM_REPLICATES) == 1
    shared = M.paired_bootstrap(s, None, w, t, pcts=(20, 50, 80), n_boot=300, seed=3,
                                replicates_a=boot.cpt)
    np.testing.assert_array_equal(full.diff, shared.diff)
    # another router on the same benchmark reuses the random side, paired on the same draws
    other = rng.random(n)
    reused = M.paired_bootstrap(other, None, w, t, pcts=(20, 50, 80), n_boot=300, seed=3)
    M._RANDOM_REPLICATES.clear()
    fresh = M.paired_bootstrap(other, None, w, t, pcts=(20, 50, 80), n_boot=300, seed=3)
    np.testing.assert_array_equal(reused.diff, fresh.diff)
    # and the random router itself does not beat random
    lo, hi = fresh.ci(50)
    assert lo < 0 < hi


def test_bootstrap_draws_the_same_resamples_when_they_come_from_its_cache() -> None:
    rng = np.random.default_rng(5)
    n = 300
    w, t = (rng.random(n) < 0.5).astype(float), (rng.random(n) < 0.7).astype(float)
    scores = rng.random(n)
    M._RESAMPLES.clear()
    first = M.bootstrap(scores, w, t, n_boot=50, seed=9, chunk_size=16)
    assert (9, n, 50, 16) in M._RESAMPLES  # drawn once, kept
    again = M.bootstrap(scores, w, t, n_boot=50, seed=9, chunk_size=16)
    np.testing.assert_array_equal(first.cpt, again.cpt)
    # ... and they are default_rng(seed)'s draws, chunk by chunk, as without a cache
    draws = np.random.default_rng(9)
    fresh = np.concatenate([M._resample_counts(draws, n, m) for m in (16, 16, 16, 2)])
    np.testing.assert_array_equal(np.concatenate(M._RESAMPLES[(9, n, 50, 16)]), fresh)
    other = M.bootstrap(scores, w, t, n_boot=50, seed=10, chunk_size=16)
    assert not np.array_equal(other.cpt, first.cpt)
