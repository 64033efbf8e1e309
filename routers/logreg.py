"""Logistic-regression router: a regularised linear model of who wins, on the embeddings.

The plain linear baseline RouterBench-style studies report beside kNN. With ``ties="both"``
the three outcomes (weak won, tie, strong won) are classes of one multinomial model and the
score is ``(1 + P(strong won) − P(weak won)) / 2``: the expected target, in [0, 1], so a tie
counts half as in the other routers. With ``ties="drop"`` it is a binary model of
P(strong won) among decided rows. The fit is scikit-learn's L2-penalised L-BFGS, closed
under a fixed seed; ``C`` is the inverse penalty strength.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, ParamSpec, whole_number
from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Router


class LogRegRouter(Router):
    """Multinomial (or binary) logistic regression on the query embedding.

    Args:
        C: inverse L2 penalty (smaller: smoother scores; 0.1 suits a few thousand rows of
            384-d MiniLM embeddings).
        ties: "both" (a tie is its own class, scored as half a win) or "drop".
        max_iter: L-BFGS iterations.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "C": FloatRange(1e-3, 10.0, log=True, min=1e-8, max=1e8),
        "ties": Choice(("both", "drop")),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {"max_iter": whole_number(1, 1_000_000)}

    def __init__(self, C: float = 0.1, ties: str = "both", max_iter: int = 1000) -> None:
        self.C = C
        self.ties = ties
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogRegRouter:
        if not float(self.C) > 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        self.prior_ = prior(yc)
        self.model_: Any = None
        # Targets are 0, 0.5 or 1 (a tie) from label sources; other soft values round.
        classes = np.round(yc * 2).astype(np.int64)  # 0 weak, 1 tie, 2 strong
        if Xc.shape[0] == 0 or np.unique(classes).size < 2:
            return self
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))
        self.model_.fit(Xc, classes)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        Xq = check_X(X)
        if self.model_ is None or Xq.shape[0] == 0:
            return np.full(Xq.shape[0], self.prior_)
        proba = self.model_.predict_proba(Xq)
        index = {int(c): i for i, c in enumerate(self.model_.classes_)}

        def p(c: int) -> np.ndarray:
            return proba[:, index[c]] if c in index else np.zeros(Xq.shape[0])

        return np.asarray((1.0 + p(2) - p(0)) / 2.0, dtype=np.float64)
