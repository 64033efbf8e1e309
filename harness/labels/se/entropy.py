"""Semantic entropy from cluster ids and per-sample log-likelihoods (method.md eq. 1-2).

* p(s_i|x): each sample's length-normalised log-likelihood (mean token log-prob),
  exponentiated and normalised over the N samples (Farquhar et al. 2024), i.e.
  ``log p_i = ll_i - logsumexp(ll)``.
* p(C|x) = Σ_{s∈C} p(s|x)  (eq. 1).
* SE(x) = −(1/|C|) Σ_C log p(C|x)  (eq. 2, the paper's form). One cluster gives SE = 0.
* Without log-probs: discrete SE, the entropy of the cluster-size distribution,
  −Σ_C (n_C/N) log(n_C/N).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def cluster_log_probs(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> np.ndarray:
    """log p(C|x) per cluster (ordered by cluster id), from normalised sample likelihoods."""
    ids = np.asarray(cluster_ids, dtype=int)
    ll = np.asarray(log_likelihoods, dtype=float)
    if ids.shape != ll.shape or ids.size == 0:
        raise ValueError("need one log-likelihood per sample and at least one sample")
    log_p = ll - np.logaddexp.reduce(ll)  # normalise over the N samples
    return np.array([np.logaddexp.reduce(log_p[ids == c]) for c in np.unique(ids)])


def semantic_entropy(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """SE by eq. 1-2 with length-normalised likelihoods."""
    log_pc = cluster_log_probs(cluster_ids, log_likelihoods)
    se = float(-log_pc.mean())
    # A single cluster has log p = 0 up to rounding (±1e-16); snap it to exactly 0 so that
    # "SE_strong = 0" in eq. 3 is detected (labelling.py handles that case).
    return se if se > 1e-9 else 0.0


def discrete_semantic_entropy(cluster_ids: Sequence[int]) -> float:
    """Entropy of the cluster-size distribution (no log-probs needed)."""
    ids = np.asarray(cluster_ids, dtype=int)
    if ids.size == 0:
        raise ValueError("need at least one sample")
    _, counts = np.unique(ids, return_counts=True)
    p = counts / counts.sum()
    return float(max(0.0, -(p * np.log(p)).sum()))
