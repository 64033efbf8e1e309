"""Blend router: the mean of a kNN router's and a logistic regression's P(strong wins).

The two make different mistakes. kNN averages the labels of the most similar training
prompts: local, good where similar questions share an outcome (MMLU, by subject), noisy
where they do not. Logistic regression fits one smooth direction of the whole space: global,
steadier on small label sets, blind to local structure. Averaging their scores (both are
expected targets in [0, 1], so no rescaling is needed, and a single prompt can be scored
alone, as a served router must) beat each member under cross-fit on the evaluated pair's own
outcomes (5 fold seeds, MiniLM embeddings, kNN k = 50, C = 0.1): MMLU CPT(50 %) 26.3
(25.7-26.8) against 28.0 for kNN and 28.2 for logistic regression. RouterBench-style
re-evaluations make the same point: tuned simple routers and their ensembles are the bar.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, IntRange, ParamSpec, whole_number
from routers.base import Router
from routers.knn import KNNRouter
from routers.logreg import LogRegRouter


class BlendRouter(Router):
    """``knn_share`` × kNN score + (1 − ``knn_share``) × logistic-regression score.

    Args:
        k: the kNN member's neighbours.
        C: the logistic regression's inverse L2 penalty.
        knn_share: the kNN member's weight in [0, 1] (0.5: the plain mean).
        weights: the kNN member's neighbour weighting ("uniform" or "similarity").
        ties: both members' tie convention ("both" or "drop").
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "k": IntRange(5, 300, log=True, min=1, max=100_000),
        "C": FloatRange(1e-3, 10.0, log=True, min=1e-8, max=1e8),
        "knn_share": FloatRange(0.0, 1.0, min=0.0, max=1.0),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {
        "weights": Choice(("uniform", "similarity")),
        "ties": Choice(("both", "drop")),
        "max_iter": whole_number(1, 1_000_000),
    }

    def __init__(
        self,
        k: int = 50,
        C: float = 0.1,
        knn_share: float = 0.5,
        weights: str = "uniform",
        ties: str = "both",
        max_iter: int = 1000,
    ) -> None:
        self.k = k
        self.C = C
        self.knn_share = knn_share
        self.weights = weights
        self.ties = ties
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> BlendRouter:
        if not 0.0 <= float(self.knn_share) <= 1.0:
            raise ValueError(f"knn_share must lie in [0, 1], got {self.knn_share}")
        self.knn_ = KNNRouter(k=self.k, weights=self.weights, ties=self.ties).fit(X, y)
        self.logreg_ = LogRegRouter(C=self.C, ties=self.ties, max_iter=self.max_iter).fit(X, y)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        share = float(self.knn_share)
        out = share * self.knn_.score(X) + (1.0 - share) * self.logreg_.score(X)
        return np.clip(out, 0.0, 1.0)
