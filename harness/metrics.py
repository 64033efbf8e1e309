"""Call–performance curves and the numbers read off them: CPT, APGR, AUC, bootstrap CIs.

Pure numpy; no plotting (see :mod:`harness.plotting`).

Conventions
-----------
* A router gives each prompt a score; higher means "send to the strong model". A threshold
  sends every prompt whose score is at least the threshold to the strong model.
* **Strong share** is a fraction in ``[0, 1]`` in :class:`Curve`; **CPT is in percent**
  (``0..100``), as the paper and RouteLLM report it. **Quality** is in the benchmark's own
  unit (accuracy as a fraction for GSM8K/MMLU, the 1-10 judge score for MT-Bench), so AUC
  is in that unit too (RouteLLM's AUC for accuracy benchmarks is ours × 100; APGR and CPT
  are unit-free and comparable).

The exact curve (``grid="exact"``)
----------------------------------
Prompts are sorted by score, descending, once. Prompts with equal scores are inseparable by
any threshold, so the curve has a point only at the boundaries between distinct score
values, plus share 0 (all weak) and share 1 (all strong): every share a threshold can
produce, and no other. Quality at ``k`` strong calls is ``(Σ weak + Σ_{top k}(strong −
weak)) / n`` from one prefix sum.

Between two consecutive points the curve is the straight line: that is the *expected*
quality when the boundary group is split at random (sending each of its prompts to the
strong model with probability p), so every share in between is reachable by a randomised
threshold. :func:`cpt` therefore interpolates linearly by default; with all scores equal the
curve is the random router's line and CPT(x) = x. ``interpolate=False`` returns the share of
the first point itself (a deterministic threshold); the two differ by less than the width of
the crossing group (1/n when scores are distinct).

CPT(x) is the smallest strong share whose quality reaches ``weak + x/100 · (strong − weak)``:
the **first crossing** scanning from share 0 upwards, so it stays correct when the curve is
not monotone (a later dip below the target does not matter, and points are never assumed
sorted by quality). If ``strong ≤ weak`` the target is already met at share 0 and CPT is 0.

RouteLLM's convention (``grid="routellm"``)
-------------------------------------------
``routellm/evals/benchmarks.py`` takes 11 thresholds ``pd.qcut(scores, 10, retbins=True)``
— the 0, 10, …, 100 % quantiles (linear interpolation) — and routes ``score >= t`` to the
strong model, except at the last (the maximum) where it uses ``score > t`` (no strong calls).
``evaluate.py`` then sorts these points by strong share and computes
``CPT = np.interp(target, quality, share)``, which silently assumes quality increases with
share; ``AUC = np.trapz(quality, share)``; ``APGR = (AUC − weak_auc) / (strong_auc −
weak_auc)`` with ``weak_auc``/``strong_auc`` the flat lines over the same share range. On
this grid :func:`cpt` reproduces that ``np.interp`` bit for bit (``method="routellm"``), so
numbers compare with published ones; ``method="first_crossing"`` gives the robust reading of
the same 11 points. APGR/AUC use RouteLLM's formula on either grid (on the exact grid the
share range is [0, 1], so APGR = (AUC − weak)/(strong − weak)).

The oracle scores each prompt by ``strong − weak`` (strong only where it helps, biggest gain
first); its curve is the floor of every router's CPT. The random router's expected curve is
the straight line from (0, weak) to (1, strong): CPT(x) = x.

Bootstrap: prompts are resampled with replacement ``n_boot`` times (seeded). Each resample's
exact curve reuses the single global sort: a resample is a vector of counts over the sorted
prompts, and prefix sums of counts and gains give its curve, a few cache-sized chunks of
resamples at a time; 14k prompts × 1000 resamples take about 0.3 s on one core
(``bench/metrics.py``). The CI is the percentile interval. On the RouteLLM grid each
resample recomputes its own 10-quantile thresholds (a loop, ~3 s for MMLU × 1000).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from harness.records import Benchmark

Grid = Literal["exact", "routellm"]
CptMethod = Literal["first_crossing", "routellm"]
DEFAULT_PCTS: tuple[float, ...] = (20.0, 50.0, 80.0)
ROUTELLM_NUM_RESULTS = 10


@dataclass(frozen=True)
class Curve:
    """A call–performance curve.

    Attributes:
        share: fraction of prompts sent to the strong model at each point, ascending
            (exact grid: starts at 0, ends at 1).
        quality: benchmark score of the mixed system at each point.
        threshold: the score threshold of each point (prompts with ``score >= threshold``
            go strong; ``inf`` for the all-weak point).
        weak / strong: the benchmark score of the weak / strong model alone.
        n: number of prompts.
        grid: ``"exact"`` or ``"routellm"``.
    """

    share: np.ndarray
    quality: np.ndarray
    threshold: np.ndarray
    weak: float
    strong: float
    n: int
    grid: str = "exact"

    def __len__(self) -> int:
        return len(self.share)

    def quality_at(self, share: float | np.ndarray) -> np.ndarray:
        """Quality at any strong share by linear interpolation (the randomised threshold)."""
        return np.asarray(np.interp(share, self.share, self.quality), dtype=float)


def _as_arrays(
    scores: Sequence[float] | np.ndarray, weak: np.ndarray, strong: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weak, dtype=float)
    t = np.asarray(strong, dtype=float)
    if s.ndim != 1 or s.shape != w.shape or s.shape != t.shape:
        raise ValueError(
            f"scores, weak and strong must be 1-d and equally long, got {s.shape}, {w.shape}, "
            f"{t.shape}"
        )
    if len(s) == 0:
        raise ValueError("cannot build a curve for an empty benchmark")
    if not (np.isfinite(s).all() and np.isfinite(w).all() and np.isfinite(t).all()):
        raise ValueError("scores and outcomes must be finite (no NaN or inf)")
    return s, w, t


def _sorted_groups(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The descending-score order and the last index of each tie group in that order."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    ends = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
    return order, ends


def call_performance_curve(
    scores: Sequence[float] | np.ndarray,
    weak: np.ndarray,
    strong: np.ndarray,
    *,
    grid: Grid = "exact",
) -> Curve:
    """The call–performance curve of ``scores`` on per-prompt outcomes ``weak``/``strong``."""
    s, w, t = _as_arrays(scores, weak, strong)
    if grid == "routellm":
        return _routellm_curve(s, w, t)
    if grid != "exact":
        raise ValueError(f"unknown grid {grid!r}; use 'exact' or 'routellm'")
    n = len(s)
    order, ends = _sorted_groups(s)
    gain = np.cumsum((t - w)[order])[ends]
    share = np.concatenate([[0.0], (ends + 1) / n])
    quality = (w.sum() + np.concatenate([[0.0], gain])) / n
    threshold = np.concatenate([[np.inf], s[order][ends]])
    return Curve(share, quality, threshold, float(w.mean()), float(t.mean()), n, "exact")


def _routellm_curve(s: np.ndarray, w: np.ndarray, t: np.ndarray) -> Curve:
    n = len(s)
    thresholds = np.quantile(s, np.linspace(0.0, 1.0, ROUTELLM_NUM_RESULTS + 1))
    asc = np.argsort(s, kind="stable")
    s_asc = s[asc]
    # suffix[i] = Σ (strong − weak) over the prompts at ascending positions i..n-1
    suffix = np.concatenate([np.cumsum((t - w)[asc][::-1])[::-1], [0.0]])
    start = np.searchsorted(s_asc, thresholds, side="left")  # score >= threshold
    start[-1] = np.searchsorted(s_asc, thresholds[-1], side="right")  # last: score > max
    count = n - start
    quality = (w.sum() + suffix[start]) / n
    share = count / n
    # RouteLLM sorts the points by strong percentage before every metric.
    by_share = np.argsort(share, kind="stable")
    return Curve(
        share[by_share], quality[by_share], thresholds[by_share],
        float(w.mean()), float(t.mean()), n, "routellm",
    )


def _check_pct(pct: float) -> float:
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"CPT percentage must be within [0, 100], got {pct}")
    return pct / 100.0


def _first_crossing(
    share: np.ndarray, quality: np.ndarray, target: float, tol: float, interpolate: bool
) -> float:
    hit = quality >= target - tol
    if not hit.any():  # only reachable through rounding; the last point is `strong`
        return float(share[-1])
    j = int(np.argmax(hit))
    if j == 0 or not interpolate:
        return float(share[j])
    q0, q1 = quality[j - 1], quality[j]
    frac = (target - q0) / (q1 - q0)
    return float(share[j - 1] + min(max(frac, 0.0), 1.0) * (share[j] - share[j - 1]))


def cpt(
    curve: Curve,
    pct: float,
    *,
    method: CptMethod | None = None,
    interpolate: bool = True,
) -> float:
    """CPT(pct): the strong-call share (in percent) needed to reach pct % of the quality gap.

    Args:
        curve: from :func:`call_performance_curve`.
        pct: 0..100.
        method: ``"first_crossing"`` (default on the exact grid) or ``"routellm"`` (default
            on the RouteLLM grid: RouteLLM's ``np.interp``, reproduced as is).
        interpolate: first crossing only; interpolate linearly inside the crossing segment
            (the randomised threshold, the default) or return the crossing point's share.
    """
    p = _check_pct(pct)
    target = curve.weak + p * (curve.strong - curve.weak)
    if method is None:
        method = "routellm" if curve.grid == "routellm" else "first_crossing"
    if method == "routellm":
        return float(np.interp(target, curve.quality, curve.share * 100.0))
    if curve.strong <= curve.weak:
        return 0.0
    tol = 1e-12 * max(1.0, abs(curve.strong), abs(curve.weak))
    return 100.0 * _first_crossing(curve.share, curve.quality, target, tol, interpolate)


def auc(curve: Curve) -> float:
    """Area under quality vs strong share (share as a fraction), trapezoidal, as RouteLLM."""
    return float(np.trapezoid(curve.quality, curve.share))


def apgr(curve: Curve) -> float:
    """Average performance gap recovered (RouteLLM): (AUC − weak AUC) / (strong AUC − weak AUC).

    NaN when the two models score the same.
    """
    width = float(curve.share[-1] - curve.share[0])
    gap = (curve.strong - curve.weak) * width
    if gap == 0.0:
        return float("nan")
    return (auc(curve) - curve.weak * width) / gap


def oracle_scores(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """The oracle router's scores: the gain of the strong model on each prompt."""
    gain: np.ndarray = np.asarray(strong, dtype=float) - np.asarray(weak, dtype=float)
    return gain


def oracle_quality(weak: np.ndarray, strong: np.ndarray) -> float:
    """The best score any router can reach (the better model on every prompt)."""
    return float(np.maximum(np.asarray(weak, float), np.asarray(strong, float)).mean())


def random_curve(weak: float, strong: float, n: int = 0) -> Curve:
    """The random router's expected curve: the straight line from (0, weak) to (1, strong)."""
    return Curve(
        np.array([0.0, 1.0]), np.array([weak, strong]), np.array([np.inf, -np.inf]),
        float(weak), float(strong), n, "exact",
    )


# -- bootstrap ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap replicates of CPT and APGR.

    Attributes:
        pcts: the CPT percentages, in the order of ``cpt``'s columns.
        cpt: ``(n_boot, len(pcts))`` CPT replicates in percent.
        apgr: ``(n_boot,)`` APGR replicates.
        level: the confidence level of :meth:`cpt_ci`/:meth:`apgr_ci`.
    """

    pcts: tuple[float, ...]
    cpt: np.ndarray
    apgr: np.ndarray
    level: float = 0.95

    def _interval(self, values: np.ndarray) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return float("nan"), float("nan")
        alpha = (1.0 - self.level) / 2.0
        lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
        return float(lo), float(hi)

    def cpt_ci(self, pct: float) -> tuple[float, float]:
        return self._interval(self.cpt[:, self.pcts.index(float(pct))])

    def apgr_ci(self) -> tuple[float, float]:
        return self._interval(self.apgr)


def _resample_counts(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """``rows`` bootstrap resamples of ``n`` items as per-item counts, shape (rows, n).

    Column ``i`` counts prompt ``i`` (the benchmark's order); :func:`bootstrap` and
    :func:`paired_bootstrap` read them in their routers' score order, so with one seed both
    see the same resamples.
    """
    idx = rng.integers(0, n, size=(rows, n), dtype=np.int64)
    idx += (np.arange(rows, dtype=np.int64) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n)


#: Recent resample draws, (seed, n, n_boot, rows) → count chunks: every router of a study is
#: scored on the same benchmark with the same seed, hence the very same resamples; drawing
#: them once per benchmark saves a quarter of each bootstrap on MMLU.
_RESAMPLES: dict[tuple[int, int, int, int], list[np.ndarray]] = {}
_RESAMPLES_MAX_CELLS = 64_000_000  # ~64 MB of uint8 counts in all


def _resample_chunks(seed: int, n: int, n_boot: int, rows: int) -> Iterator[np.ndarray]:
    """The bootstrap's resamples as count chunks of ``rows`` rows (the last may be shorter):
    the draws of ``default_rng(seed)``, chunk by chunk, kept for the next caller."""
    key = (int(seed), int(n), int(n_boot), int(rows))
    cached = _RESAMPLES.get(key)
    if cached is not None:
        yield from cached
        return
    keep = n * n_boot <= _RESAMPLES_MAX_CELLS // 4
    chunks: list[np.ndarray] = []
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        m = min(rows, n_boot - done)
        counts = _resample_counts(rng, n, m)
        if keep:
            # counts of one prompt in one resample are tiny (Poisson(1)): one byte each
            compact = counts.astype(np.uint8) if counts.max() < 256 else counts
            chunks.append(compact)
        yield counts
        done += m
    if keep:
        _RESAMPLES[key] = chunks
        while sum(c.size for v in _RESAMPLES.values() for c in v) > _RESAMPLES_MAX_CELLS:
            _RESAMPLES.pop(next(iter(_RESAMPLES)))


def _exact_replicates(
    gain_sorted: np.ndarray,
    weak_sorted: np.ndarray,
    ends: np.ndarray,
    counts: np.ndarray,
    pcts: Sequence[float],
    interpolate: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """CPTs and APGR of each resample; ``counts`` are per rank (descending-score order).

    K: strong calls and G: summed gain at the end of each tie group (the curve's points
    after the all-weak origin). Groups absent from a resample give repeated points, which
    change neither the first crossing nor the area.
    """
    n = counts.shape[1]
    rows = np.arange(len(counts))
    c = counts.astype(float)
    K = np.cumsum(c, axis=1)
    G = np.cumsum(c * gain_sorted, axis=1)
    total_gain = G[:, -1].copy()
    # 2-D gain/weak: one order per resample (the random router's draws, paired_vs_random)
    weak_sum = c @ weak_sorted if weak_sorted.ndim == 1 else np.einsum("ij,ij->i", c, weak_sorted)
    if len(ends) != n:  # ties: keep only the group boundaries
        K, G = K[:, ends], G[:, ends]
    out = np.empty((len(c), len(pcts)))
    tol = 1e-9 * (1.0 + np.abs(total_gain))
    for i, pct in enumerate(pcts):
        target = _check_pct(pct) * total_gain
        j = np.argmax(G >= (target - tol)[:, None], axis=1)
        k1 = K[rows, j]
        if interpolate:
            prev = j > 0
            jm = np.maximum(j - 1, 0)
            k0 = np.where(prev, K[rows, jm], 0.0)
            g0 = np.where(prev, G[rows, jm], 0.0)
            g1 = G[rows, j]
            denom = np.where(g1 > g0, g1 - g0, 1.0)
            frac = np.clip((target - g0) / denom, 0.0, 1.0)
            k = k0 + frac * (k1 - k0)
        else:
            k = k1
        at_origin = target <= tol  # the all-weak point already reaches the target
        out[:, i] = np.where((total_gain <= 0) | at_origin, 0.0, 100.0 * k / n)
    # APGR on the exact grid (share range [0, 1]): (AUC − weak) / (strong − weak), with
    # AUC = Σ ΔK/n · (Q_j + Q_{j−1})/2 and Q = (weak_sum + G)/n. Σ ΔK·(G_j + G_{j−1}) is
    # computed as 2·Σ ΔK·G − Σ ΔK·ΔG, row-wise dot products without shifted copies.
    if len(ends) != n:
        dK = np.diff(K, axis=1, prepend=0.0)
        dG = np.diff(G, axis=1, prepend=0.0)
    else:
        dK, dG = c, c * gain_sorted
    pair_sum = 2.0 * np.einsum("ij,ij->i", dK, G) - np.einsum("ij,ij->i", dK, dG)
    area = (2.0 * weak_sum * n + pair_sum) / (2.0 * n * n)
    weak_q = weak_sum / n
    gap = total_gain / n
    with np.errstate(divide="ignore", invalid="ignore"):
        apgr_r = np.where(gap != 0, (area - weak_q) / gap, np.nan)
    return out, apgr_r


def bootstrap(
    scores: Sequence[float] | np.ndarray,
    weak: np.ndarray,
    strong: np.ndarray,
    *,
    pcts: Sequence[float] = DEFAULT_PCTS,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    grid: Grid = "exact",
    interpolate: bool = True,
    chunk_size: int | None = None,
    progress: bool = False,
) -> BootstrapResult:
    """Bootstrap replicates of CPT(pcts) and APGR, resampling prompts (seeded)."""
    s, w, t = _as_arrays(scores, weak, strong)
    pcts_t = tuple(float(p) for p in pcts)
    n = len(s)
    # Sort once. Resamples are drawn per prompt (in the prompts' own order) and read in
    # score order: the same draws as :func:`paired_bootstrap` with the same seed, so a
    # study's CI replicates double as the router's side of its paired comparison.
    order, ends = _sorted_groups(s)
    s, w, t = s[order], w[order], t[order]
    gain = t - w
    # Chunks of ~128k cells (about 1 MB per float array) stay in cache: 3x faster than
    # 2M-cell chunks on MMLU (measured with bench/metrics.py).
    rows = chunk_size or max(2, min(n_boot, (1 << 17) // max(n, 1)))
    cpts: list[np.ndarray] = []
    apgrs: list[np.ndarray] = []
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_boot, desc="bootstrap", unit="resample", leave=False, disable=None)
    done = 0
    for drawn in _resample_chunks(seed, n, n_boot, rows):
        m = len(drawn)
        counts = drawn[:, order]
        if grid == "exact":
            c, a = _exact_replicates(gain, w, ends, counts, pcts_t, interpolate)
        elif grid == "routellm":
            c, a = _routellm_replicates(s, w, t, counts, pcts_t)
        else:
            raise ValueError(f"unknown grid {grid!r}; use 'exact' or 'routellm'")
        cpts.append(c)
        apgrs.append(a)
        done += m
        if bar is not None:
            bar.update(m)
    if bar is not None:
        bar.close()
    return BootstrapResult(pcts_t, np.concatenate(cpts), np.concatenate(apgrs), level)


def _routellm_replicates(
    s: np.ndarray, w: np.ndarray, t: np.ndarray, counts: np.ndarray, pcts: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    # The 10-quantile grid depends on each resample's own quantiles; loop over resamples.
    out = np.empty((len(counts), len(pcts)))
    apgr_r = np.empty(len(counts))
    for r, c in enumerate(counts):
        idx = np.repeat(np.arange(len(s)), c)
        curve = _routellm_curve(s[idx], w[idx], t[idx])
        out[r] = [cpt(curve, p) for p in pcts]
        apgr_r[r] = apgr(curve)
    return out, apgr_r


def bootstrap_cpt_ci(
    scores: Sequence[float] | np.ndarray,
    weak: np.ndarray,
    strong: np.ndarray,
    *,
    pcts: Sequence[float] = DEFAULT_PCTS,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    grid: Grid = "exact",
) -> dict[float, tuple[float, float]]:
    """Percentile bootstrap CI of each CPT: ``{pct: (lo, hi)}`` in percent."""
    res = bootstrap(
        scores, weak, strong, pcts=pcts, n_boot=n_boot, seed=seed, level=level, grid=grid
    )
    return {p: res.cpt_ci(p) for p in res.pcts}


# -- paired comparisons -----------------------------------------------------------------------


@dataclass(frozen=True)
class PairedDifference:
    """CPT(a) − CPT(b) on the same bootstrap resamples of the prompts (negative: a is better).

    Attributes:
        pcts: the CPT percentages, in the order of ``diff``'s columns.
        point: CPT(a) − CPT(b) on the prompts as they are, per percentage.
        diff: ``(n_boot, len(pcts))`` replicates of the difference.
        level: the confidence level of :meth:`ci`.
    """

    pcts: tuple[float, ...]
    point: tuple[float, ...]
    diff: np.ndarray
    level: float = 0.95

    def ci(self, pct: float) -> tuple[float, float]:
        """The percentile interval of the difference at ``pct``."""
        values = self.diff[:, self.pcts.index(float(pct))]
        alpha = (1.0 - self.level) / 2.0
        lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
        return float(lo), float(hi)

    def a_better(self, pct: float) -> bool:
        """a needs fewer strong calls than b with the given confidence (interval below 0)."""
        return self.ci(pct)[1] < 0.0


def _cpt_replicates(
    scores: np.ndarray, w: np.ndarray, t: np.ndarray, counts: np.ndarray, pcts: tuple[float, ...]
) -> np.ndarray:
    """CPTs of ``scores`` on resamples given as per-prompt counts (prompt order)."""
    order, ends = _sorted_groups(scores)
    out, _ = _exact_replicates((t - w)[order], w[order], ends, counts[:, order], pcts, True)
    return out


def paired_bootstrap(
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray | None,
    weak: np.ndarray,
    strong: np.ndarray,
    *,
    pcts: Sequence[float] = (50.0, 80.0),
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    replicates_a: np.ndarray | None = None,
) -> PairedDifference:
    """CPT(a) − CPT(b) with a paired percentile bootstrap (exact curves).

    Every resample draws prompts with replacement once and scores both routers on it, so the
    interval reflects only how the routers differ, not how hard the drawn prompts were.
    ``scores_b=None`` compares with the *random* router: its expected CPT(x) is x on every
    resample, and its sampling spread is included by drawing a fresh random order of the
    prompts per resample (the CPT a uniformly random router reaches on that resample), so
    "a beats random" never rests on one seeded draw. ``replicates_a``: a's CPT replicates
    on these resamples when already known (:func:`bootstrap` with the same seed, n_boot and
    pcts, exact grid), so they are not computed twice.
    """
    sa, w, t = _as_arrays(scores_a, weak, strong)
    pcts_t = tuple(float(p) for p in pcts)
    n = len(sa)
    # The random router's orders come from their own stream, so the resamples (``rng``) are
    # the same with or without them: the random side of a benchmark is computed once and
    # reused for every router scored on it (a study pairs ~40 routers with one benchmark).
    random_key: tuple[Any, ...] = ()
    random_reps: np.ndarray | None = None
    if scores_b is None:
        digest = hashlib.blake2b(w.tobytes() + t.tobytes(), digest_size=16).hexdigest()
        random_key = (seed, n_boot, pcts_t, n, digest)
        random_reps = _RANDOM_REPLICATES.get(random_key)
        order_rng = np.random.default_rng([seed, 1])
    curve_a = call_performance_curve(sa, w, t)
    if scores_b is None:
        point = tuple(cpt(curve_a, p) - p for p in pcts_t)
    else:
        sb, _, _ = _as_arrays(scores_b, w, t)
        curve_b = call_performance_curve(sb, w, t)
        point = tuple(cpt(curve_a, p) - cpt(curve_b, p) for p in pcts_t)
    rows = max(2, min(n_boot, (1 << 17) // max(n, 1)))
    diffs: list[np.ndarray] = []
    random_parts: list[np.ndarray] = []
    known = False
    if replicates_a is not None and random_reps is not None:  # nothing to draw
        diffs.append(replicates_a[:n_boot] - random_reps[:n_boot])
        known = True
    done = 0
    for counts in () if known else _resample_chunks(seed, n, n_boot, rows):
        m = len(counts)
        rep_a = (
            replicates_a[done : done + m]
            if replicates_a is not None
            else _cpt_replicates(sa, w, t, counts, pcts_t)
        )
        if random_reps is not None:
            rep_b = random_reps[done : done + m]
        elif scores_b is None:
            # one random order per resample: a random router's draw on that resample
            # (Generator.permuted shuffles each row in linear time; an argsort of random
            # keys costs n log n per row)
            perm = order_rng.permuted(np.tile(np.arange(n), (m, 1)), axis=1)
            gain = (t - w)[perm]
            c = np.take_along_axis(counts, perm, axis=1)
            rep_b, _ = _exact_replicates(gain, w[perm], np.arange(n), c, pcts_t, True)
            random_parts.append(rep_b)
        else:
            rep_b = _cpt_replicates(sb, w, t, counts, pcts_t)
        diffs.append(rep_a - rep_b)
        done += m
    if random_parts:
        _RANDOM_REPLICATES[random_key] = np.concatenate(random_parts)
        while len(_RANDOM_REPLICATES) > 64:
            _RANDOM_REPLICATES.pop(next(iter(_RANDOM_REPLICATES)))
    return PairedDifference(pcts_t, point, np.concatenate(diffs), level)


def paired_mean_difference(
    pairs: Sequence[tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    weak: np.ndarray,
    strong: np.ndarray,
    *,
    pcts: Sequence[float] = (50.0, 80.0),
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedDifference:
    """The mean over ``pairs`` of CPT(a_i) − CPT(b_i), all routers on the same resamples.

    For two label sources compared router for router (each router trained once on each):
    the best row of each side is the minimum of many noisy estimates, so "best a below
    best b" is decided mostly by which side drew the luckiest row. The mean paired
    difference uses every router, and one resample of the prompts scores all of them, so
    its interval is that of the labels' effect, not of how hard the drawn prompts were.
    With one pair it is :func:`paired_bootstrap` (the same resamples, the same numbers).
    """
    if not pairs:
        raise ValueError("paired_mean_difference needs at least one (a, b) pair")
    arrays = [(_as_arrays(a, weak, strong)[0], _as_arrays(b, weak, strong)[0]) for a, b in pairs]
    _, w, t = _as_arrays(arrays[0][0], weak, strong)
    pcts_t = tuple(float(p) for p in pcts)
    n = len(w)

    def cpts(s: np.ndarray) -> np.ndarray:
        curve = call_performance_curve(s, w, t)
        return np.array([cpt(curve, p) for p in pcts_t])

    point = np.mean([cpts(a) - cpts(b) for a, b in arrays], axis=0)
    rows = max(2, min(n_boot, (1 << 17) // max(n, 1)))
    diffs = []
    for counts in _resample_chunks(seed, n, n_boot, rows):
        diffs.append(
            np.mean(
                [
                    _cpt_replicates(a, w, t, counts, pcts_t)
                    - _cpt_replicates(b, w, t, counts, pcts_t)
                    for a, b in arrays
                ],
                axis=0,
            )
        )
    return PairedDifference(pcts_t, tuple(float(x) for x in point), np.concatenate(diffs), level)


# The random router's CPT replicates by (seed, n_boot, pcts, n, outcomes digest): a few KB
# each (n_boot × len(pcts) floats), oldest dropped first.
_RANDOM_REPLICATES: dict[tuple[Any, ...], np.ndarray] = {}


# -- summary -------------------------------------------------------------------------------------


def _pct_key(p: float) -> str:
    return f"{p:g}".replace(".", "_")


def summarize(
    scores: Sequence[float] | np.ndarray,
    benchmark: Benchmark,
    *,
    grid: Grid = "exact",
    seed: int = 0,
    n_boot: int = 1000,
    pcts: Sequence[float] = DEFAULT_PCTS,
    level: float = 0.95,
    progress: bool = False,
) -> dict[str, float]:
    """Flat metrics of a router's scores on a benchmark (what MLflow logs and reports read).

    Keys: ``n``, ``weak``, ``strong``, ``oracle`` (best reachable score), ``cpt_<p>``,
    ``cpt_<p>_lo``, ``cpt_<p>_hi`` (percent), ``apgr``, ``apgr_lo``, ``apgr_hi``, ``auc``,
    ``oracle_cpt_<p>``, ``oracle_apgr`` (always on the exact grid), ``n_points`` (points on
    the curve), ``n_boot``, ``constant_scores`` (1 when the scores are constant or nearly:
    see :func:`is_degenerate`; then no interval is given, since a zero-width CI around
    the random line would look more certain than random), and the paired comparison with
    the random router (:func:`paired_bootstrap` with ``scores_b=None``):
    ``diff_random_cpt_<p>`` (CPT − p), ``diff_random_cpt_<p>_lo`` / ``_hi`` and
    ``beats_random_<p>`` (1 when the whole interval is below 0).
    """
    w, t = benchmark.weak_score, benchmark.strong_score
    curve = call_performance_curve(scores, w, t, grid=grid)
    # The oracle is the floor of every router: always read off its exact curve.
    oracle_curve = call_performance_curve(oracle_scores(w, t), w, t)
    out: dict[str, float] = {
        "n": float(len(benchmark)),
        "weak": curve.weak,
        "strong": curve.strong,
        "oracle": oracle_quality(w, t),
    }
    degenerate = is_degenerate(scores)
    boot = (
        bootstrap(
            scores, w, t, pcts=pcts, n_boot=n_boot, seed=seed, level=level, grid=grid,
            progress=progress,
        )
        if n_boot > 0 and not degenerate
        else None
    )
    for p in pcts:
        key = _pct_key(p)
        out[f"cpt_{key}"] = cpt(curve, p)
        lo, hi = boot.cpt_ci(p) if boot is not None else (float("nan"), float("nan"))
        out[f"cpt_{key}_lo"], out[f"cpt_{key}_hi"] = lo, hi
    out["apgr"] = apgr(curve)
    lo, hi = boot.apgr_ci() if boot is not None else (float("nan"), float("nan"))
    out["apgr_lo"], out["apgr_hi"] = lo, hi
    out["auc"] = auc(curve)
    for p in pcts:
        out[f"oracle_cpt_{_pct_key(p)}"] = cpt(oracle_curve, p)
    out["oracle_apgr"] = apgr(oracle_curve)
    out["n_points"] = float(len(curve))
    out["n_boot"] = float(n_boot)
    out["constant_scores"] = float(degenerate)
    if n_boot > 0 and not degenerate:
        vs_random = paired_bootstrap(
            scores, None, w, t, pcts=pcts, n_boot=n_boot, seed=seed, level=level,
            # the CI replicates are the router's side of the comparison (same draws)
            replicates_a=boot.cpt if boot is not None and grid == "exact" else None,
        )
        for p, point in zip(vs_random.pcts, vs_random.point, strict=True):
            key = _pct_key(p)
            lo, hi = vs_random.ci(p)
            out[f"diff_random_cpt_{key}"] = point
            out[f"diff_random_cpt_{key}_lo"], out[f"diff_random_cpt_{key}_hi"] = lo, hi
            out[f"beats_random_{key}"] = float(hi < 0.0)
    return out


#: A router whose most common score covers this share of prompts or more is degenerate.
DEGENERATE_SHARE = 0.95


def is_degenerate(scores: Sequence[float] | np.ndarray, share: float = DEGENERATE_SHARE) -> bool:
    """True when the scores are constant, or nearly (one value on ``share`` of the prompts,
    or a spread below float noise): such a router routes like the random one and its
    curve says nothing about it."""
    s = np.asarray(scores, dtype=float)
    if len(s) < 2:
        return True
    spread = float(np.ptp(s))
    if spread <= 1e-9 * max(1.0, float(np.abs(s).max())):
        return True
    _, counts = np.unique(s, return_counts=True)
    return bool(counts.max() >= share * len(s))
