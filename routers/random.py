"""The random router: a uniform score per query, ignoring the query.

Its expected call–performance curve is the straight line from the weak to the strong model
(CPT(x) ≈ x); one draw scatters around it. Scores depend only on ``seed`` and the number of
queries, so a run is reproducible.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from routers.base import Router


class RandomRouter(Router):
    """Uniform scores in [0, 1).

    Args:
        seed: seeds the draw; ``score`` returns the same scores for the same number of
            queries every time.
    """

    needs_embeddings: ClassVar[bool] = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> RandomRouter:
        """Nothing to learn."""
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        """One uniform score per row of ``X`` (only ``len(X)`` is used)."""
        return np.random.default_rng(self.seed).random(len(X))
