"""Uncertainty estimates from cluster ids and per-sample log-likelihoods (method.md eq. 1-2).

* p(s_i|x): each sample's length-normalised log-likelihood (mean token log-prob),
  exponentiated and normalised over the N samples (Farquhar et al. 2024), i.e.
  ``log p_i = ll_i - logsumexp(ll)``.
* p(C|x) = Σ_{s∈C} p(s|x)  (eq. 1).

From these, the estimators of :data:`ESTIMATORS` (lower = more confident):

``entropy``   −Σ_C p(C|x) log p(C|x): the entropy of the normalised cluster distribution,
              what Farquhar et al.'s reference code computes. One cluster gives 0, five
              equally likely ones log 5.
``eq2``       −(1/|C|) Σ_C log p(C|x): the paper's eq. 2 as printed. Unweighted, so one rare
              cluster with a tiny p(C) dominates: p = (0.99, 0.01) gives 2.31, more than five
              equally likely clusters (log 5 = 1.61). It rises with *agreement* whenever the
              disagreeing samples are unlikely, which is why it predicts correctness badly.
``mc``        −(1/N) Σ_i log p(C(s_i)|x): the Monte-Carlo estimate over samples (Kuhn et al.
              2023): each sample counts once, so it weights clusters by their size.
``discrete``  −Σ_C (n_C/N) log(n_C/N): entropy of the cluster sizes (no log-probs).
``token_nll`` mean over samples of the length-normalised negative log-likelihood: a
              non-semantic baseline (no clustering).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

ESTIMATORS: tuple[str, ...] = ("entropy", "eq2", "mc", "discrete", "token_nll")
# What `routerlab labels se` records as a new label file's recommended estimator. Chosen by
# validation AUROC on the development part of the training prompts (see the closing note of
# issue 9 and `routerlab labels validate --part dev`).
DEFAULT_ESTIMATOR = "entropy"
# Estimators that need the samples' log-likelihoods.
NEEDS_LOGPROBS = frozenset({"entropy", "eq2", "mc", "token_nll"})


def cluster_log_probs(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> np.ndarray:
    """log p(C|x) per cluster (ordered by cluster id), from normalised sample likelihoods."""
    ids = np.asarray(cluster_ids, dtype=int)
    ll = np.asarray(log_likelihoods, dtype=float)
    if ids.shape != ll.shape or ids.size == 0:
        raise ValueError("need one log-likelihood per sample and at least one sample")
    log_p = ll - np.logaddexp.reduce(ll)  # normalise over the N samples
    return np.array([np.logaddexp.reduce(log_p[ids == c]) for c in np.unique(ids)])


def _snap(value: float) -> float:
    # A single cluster has log p = 0 up to rounding (±1e-16); snap it to exactly 0 so that
    # "SE_strong = 0" in eq. 3 is detected (labelling.py handles that case).
    return value if value > 1e-9 else 0.0


def semantic_entropy(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """The paper's eq. 2: −(1/|C|) Σ_C log p(C|x), length-normalised likelihoods."""
    return _snap(float(-cluster_log_probs(cluster_ids, log_likelihoods).mean()))


def cluster_entropy(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """−Σ_C p(C|x) log p(C|x) (Farquhar et al. 2024's ``predictive_entropy_rao``)."""
    log_pc = cluster_log_probs(cluster_ids, log_likelihoods)
    return _snap(float(-(np.exp(log_pc) * log_pc).sum()))


def monte_carlo_entropy(cluster_ids: Sequence[int], log_likelihoods: Sequence[float]) -> float:
    """−(1/N) Σ_i log p(C(s_i)|x): every sample counts once (Kuhn et al. 2023)."""
    ids = np.asarray(cluster_ids, dtype=int)
    log_pc = cluster_log_probs(cluster_ids, log_likelihoods)
    index = np.searchsorted(np.unique(ids), ids)
    return _snap(float(-log_pc[index].mean()))


def discrete_semantic_entropy(cluster_ids: Sequence[int]) -> float:
    """Entropy of the cluster-size distribution (no log-probs needed)."""
    ids = np.asarray(cluster_ids, dtype=int)
    if ids.size == 0:
        raise ValueError("need at least one sample")
    _, counts = np.unique(ids, return_counts=True)
    p = counts / counts.sum()
    return float(max(0.0, -(p * np.log(p)).sum()))


def mean_token_nll(log_likelihoods: Sequence[float]) -> float:
    """Mean of the samples' length-normalised negative log-likelihoods (no clustering)."""
    ll = np.asarray(log_likelihoods, dtype=float)
    if ll.size == 0:
        raise ValueError("need at least one sample")
    return float(max(0.0, -ll.mean()))


def estimate(
    kind: str, cluster_ids: Sequence[int], log_likelihoods: Sequence[float] | None
) -> float:
    """The estimator ``kind`` (one of :data:`ESTIMATORS`) for one model on one prompt."""
    if kind == "discrete":
        return discrete_semantic_entropy(cluster_ids)
    if kind not in ESTIMATORS:
        raise ValueError(f"unknown SE estimator {kind!r}; choose one of {', '.join(ESTIMATORS)}")
    if log_likelihoods is None:
        raise ValueError(f"SE estimator {kind!r} needs the samples' log-likelihoods")
    if kind == "entropy":
        return cluster_entropy(cluster_ids, log_likelihoods)
    if kind == "eq2":
        return semantic_entropy(cluster_ids, log_likelihoods)
    if kind == "mc":
        return monte_carlo_entropy(cluster_ids, log_likelihoods)
    return mean_token_nll(log_likelihoods)


def label_table_estimates(table: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``kind`` for the weak (model_a) and strong (model_b) model on every row of an SE label
    table (``store.read_label_file``). Tables without per-sample columns (written before they
    existed) carry only ``eq2`` (``se_a``/``se_b``) and ``discrete``."""
    if kind == "eq2" and "cluster_ids_a" not in table.columns:
        return table["se_a"].to_numpy(float), table["se_b"].to_numpy(float)
    if kind == "discrete" and "cluster_ids_a" not in table.columns:
        return table["se_discrete_a"].to_numpy(float), table["se_discrete_b"].to_numpy(float)
    if "cluster_ids_a" not in table.columns:
        raise ValueError(
            f"this SE label file has no per-sample columns, so only 'eq2' and 'discrete' can "
            f"be computed, not {kind!r}; rebuild it with `routerlab labels se`"
        )
    out = []
    for side in ("a", "b"):
        ids = table[f"cluster_ids_{side}"].tolist()
        lls = table[f"sample_ll_{side}"].tolist()
        out.append(
            np.array(
                [
                    estimate(kind, list(i), None if ll is None else list(ll))
                    for i, ll in zip(ids, lls, strict=True)
                ],
                dtype=float,
            )
        )
    return out[0], out[1]
