"""Preference labels from SE values: δ_SE and τ (method.md eq. 3-4).

δ_SE(x) = |(SE_strong − SE_weak) / SE_strong|; the model with the lower SE wins when
δ_SE > τ, otherwise the prompt is a tie. :func:`se_winner_by_share` is the alternative rule
of the ``se`` source's ``strong_share``: the given share of prompts with the largest
SE_weak − SE_strong are "strong", the rest "weak".

SE_strong = 0 (the strong model's samples all fall in one cluster) makes eq. 3 divide by
zero. We take the limit the formula implies:

* SE_strong = 0 and SE_weak = 0: both models are fully confident, δ_SE = 0 → tie for any
  τ ≥ 0;
* SE_strong = 0 and SE_weak > 0: δ_SE = +∞ → the strong model (lower SE) wins for any τ.

Labelling is vectorised numpy over stored SE values, so a new τ re-labels in milliseconds.
"""

from __future__ import annotations

import numpy as np

WEAK, STRONG, TIE = "weak", "strong", "tie"


def delta_se(se_strong: np.ndarray, se_weak: np.ndarray) -> np.ndarray:
    """Eq. 3 with SE_strong = 0 handled as documented above."""
    s = np.asarray(se_strong, dtype=float)
    w = np.asarray(se_weak, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.abs((s - w) / s)
    zero = s == 0
    d = np.where(zero & (w == 0), 0.0, d)
    d = np.where(zero & (w > 0), np.inf, d)
    return d


def se_winner(se_strong: np.ndarray, se_weak: np.ndarray, tau: float) -> np.ndarray:
    """Eq. 4: ``"strong"``, ``"weak"`` or ``"tie"`` per prompt."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    s = np.asarray(se_strong, dtype=float)
    w = np.asarray(se_weak, dtype=float)
    d = delta_se(s, w)
    winner = np.where(s < w, STRONG, WEAK)
    return np.where(d > tau, winner, TIE)


def se_winner_by_share(
    se_strong: np.ndarray, se_weak: np.ndarray, strong_share: float
) -> np.ndarray:
    """``"strong"`` for the ``strong_share`` of prompts with the largest SE_weak − SE_strong,
    ``"weak"`` for the rest (no ties; equal gaps at the cut all fall on the same side)."""
    if not 0 < strong_share < 1:
        raise ValueError(f"strong_share must be in (0, 1), got {strong_share}")
    gap = np.asarray(se_weak, dtype=float) - np.asarray(se_strong, dtype=float)
    if gap.size == 0:
        return np.array([], dtype=object)
    cut = np.quantile(gap, 1.0 - strong_share, method="lower")
    return np.where(gap > cut, STRONG, WEAK)


def label_distribution(se_strong: np.ndarray, se_weak: np.ndarray, tau: float) -> dict[str, int]:
    w = se_winner(se_strong, se_weak, tau)
    return {k: int((w == k).sum()) for k in (STRONG, WEAK, TIE)}
