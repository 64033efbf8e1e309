"""Input checks and tie handling shared by the built-in routers.

Ties (``y == 0.5``) follow RouteLLM's two conventions, chosen per router by its ``ties``
keyword:

* ``"both"``: a tie counts as half a win for each side. RouteLLM's similarity-weighted
  router does this (``compute_elo_mle_with_tie`` duplicates every battle and turns a tie
  into one win for A plus one win for B), which is the same as a soft target of 0.5.
* ``"drop"``: ties are removed before fitting. RouteLLM's matrix-factorisation training
  keeps only battles with a winner (``winner in ["model_a", "model_b"]``).
"""

from __future__ import annotations

import numpy as np

TIE_MODES = ("both", "drop")


def check_X(X: np.ndarray, name: str = "X") -> np.ndarray:
    """A 2-D float32 array of finite values, rows L2-normalised (cosine = dot product)."""
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d) of embeddings, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


def check_targets(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    arr = np.asarray(y, dtype=np.float64).reshape(-1)
    if arr.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {arr.shape[0]} values")
    if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError("y must hold P(strong wins) in [0, 1] (1 strong won, 0 weak won, 0.5 tie)")
    return arr


def apply_ties(X: np.ndarray, y: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows and targets to fit on under the tie convention ``ties``."""
    if ties not in TIE_MODES:
        raise ValueError(f"ties must be one of {TIE_MODES}, got {ties!r}")
    if ties == "drop":
        keep = y != 0.5
        return X[keep], y[keep]
    return X, y


def prior(y: np.ndarray) -> float:
    """The score of a router fitted on no usable rows: the mean target, 0.5 when empty."""
    return float(y.mean()) if y.size else 0.5
