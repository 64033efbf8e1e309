"""Similarity-weighted (SW) ranking router (RouteLLM; the paper's eq. 5-8).

For a query q with embedding ε, each training comparison i gets the weight

    ω_i = γ^(1 + S(q, q_i))                                   (eq. 5)

where S is the cosine similarity, normalised (eq. 6; see ``similarity_norm``). A
Bradley–Terry model is then fitted *for this query* by weighted binary cross-entropy over the
training comparisons (eq. 7-8), and the score is the fitted P(strong wins | q).

Solving eq. 8 exactly, for every query at once. The training comparisons here are between
two players, the strong and the weak tier. Bradley–Terry then has one free parameter per
query, θ = ξ_strong − ξ_weak (one coefficient is only defined up to a shift), and the
weighted log-likelihood Σ_i ω_i [y_i log σ(θ) + (1 − y_i) log(1 − σ(θ))] is maximised at

    σ(θ*) = Σ_i ω_i y_i / Σ_i ω_i.

This is exactly what RouteLLM's ``compute_elo_mle_with_tie`` (an unpenalised logistic
regression, with every battle duplicated and a tie turned into one win for each side)
converges to on two tiers. ``tests/test_routers_sw_ranking.py`` checks the two agree,
query by query, against scikit-learn's ``LogisticRegression`` with ``sample_weight``, the
way RouteLLM fits it. So scoring is one similarity matmul, an ``exp`` and two weighted sums per
chunk of queries, with no iterative solver: 14k MMLU prompts against 12k training rows take
seconds (``bench/routers.py``).

``similarity_norm``:
* ``"query_max"`` (default, RouteLLM's code): S = cos(q, q_i) / max_j cos(q, q_j).
* ``"train_max"`` (eq. 6 as printed): S = cos(q, q_i) / max_{s≠i} cos(q_i, q_s).
* ``"none"``: S = cos(q, q_i).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, ParamSpec, whole_number
from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Router

SIMILARITY_NORMS = ("query_max", "train_max", "none")


class SWRankingRouter(Router):
    """Similarity-weighted Bradley–Terry, fitted per query at inference time.

    Args:
        gamma: base of the similarity weights ω = γ^(1+S) (RouteLLM: 10). Larger γ
            concentrates the fit on the most similar training prompts.
        similarity_norm: how S is normalised (module docstring).
        ties: "both" (RouteLLM SW: a tie is one win for each side) or "drop".
        chunk_size: queries scored per matmul; bounds memory to
            ``chunk_size × n_train`` floats.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "gamma": FloatRange(1.5, 1000.0, log=True, min=1.0, max=1e12),
        "similarity_norm": Choice(SIMILARITY_NORMS),
        "ties": Choice(("both", "drop")),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {"chunk_size": whole_number(1, 1_000_000)}

    def __init__(
        self,
        gamma: float = 10.0,
        similarity_norm: str = "query_max",
        ties: str = "both",
        chunk_size: int = 1024,
    ) -> None:
        self.gamma = gamma
        self.similarity_norm = similarity_norm
        self.ties = ties
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, y: np.ndarray) -> SWRankingRouter:
        if not self.gamma > 1.0:
            raise ValueError(f"gamma must be > 1 (weights grow with similarity), got {self.gamma}")
        if self.similarity_norm not in SIMILARITY_NORMS:
            raise ValueError(
                f"similarity_norm must be one of {SIMILARITY_NORMS}, got {self.similarity_norm!r}"
            )
        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        self.X_train_ = Xc
        self.y_train_ = yc.astype(np.float64)
        self.prior_ = prior(yc)
        self.train_max_ = self._train_max(Xc) if self.similarity_norm == "train_max" else None
        return self

    def _train_max(self, Xt: np.ndarray) -> np.ndarray:
        """max_{s≠i} cos(q_i, q_s) per training row (eq. 6 as printed)."""
        n = Xt.shape[0]
        out = np.empty(n, dtype=np.float32)
        if n < 2:
            out[:] = 1.0
            return out
        for start in range(0, n, self.chunk_size):
            sims = Xt[start : start + self.chunk_size] @ Xt.T
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
            out[start : start + sims.shape[0]] = sims.max(axis=1)
        return np.maximum(out, 1e-6)

    def score(self, X: np.ndarray) -> np.ndarray:
        Xq = check_X(X)
        n = Xq.shape[0]
        if self.X_train_.shape[0] == 0:
            return np.full(n, self.prior_)
        log_gamma = np.float32(np.log(self.gamma))
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, self.chunk_size):
            sims = Xq[start : start + self.chunk_size] @ self.X_train_.T
            if self.similarity_norm == "query_max":
                sims /= np.maximum(sims.max(axis=1, keepdims=True), np.float32(1e-6))
            elif self.similarity_norm == "train_max":
                assert self.train_max_ is not None
                sims /= self.train_max_[None, :]
            # log ω = (1 + S) log γ; the constant γ^1 and each row's max cancel in the ratio,
            # and subtracting the max keeps exp() from overflowing for large γ.
            sims *= log_gamma
            sims -= sims.max(axis=1, keepdims=True)
            np.exp(sims, out=sims)
            weighted = sims @ self.y_train_.astype(np.float32)
            total = sims.sum(axis=1, dtype=np.float64)
            out[start : start + sims.shape[0]] = weighted / total
        return np.clip(out, 0.0, 1.0)
