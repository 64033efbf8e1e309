"""An example routerlab plugin: routers that live outside routerlab.

``CentroidRouter`` scores a query by how much closer it is to the mean embedding of
prompts the strong model won than to the mean of prompts the weak model won.
"""

from __future__ import annotations

import numpy as np

from routers.base import FloatRange, Router


class CentroidRouter(Router):
    """σ(temperature · (cos(q, strong centroid) − cos(q, weak centroid)))."""

    search_space = {"temperature": FloatRange(1.0, 100.0, log=True)}

    def __init__(self, temperature: float = 10.0) -> None:
        self.temperature = temperature

    def fit(self, X: np.ndarray, y: np.ndarray) -> CentroidRouter:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        d = X.shape[1] if X.ndim == 2 else 0
        strong, weak = X[y == 1.0], X[y == 0.0]
        self.strong_ = strong.mean(axis=0) if len(strong) else np.zeros(d)
        self.weak_ = weak.mean(axis=0) if len(weak) else np.zeros(d)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        margin = X @ (self.strong_ - self.weak_)
        return 1.0 / (1.0 + np.exp(-self.temperature * margin))


class BrokenRouter(Router):
    """Forgets to implement score(): the registry must refuse it."""

    def __init__(self, k: int = 1) -> None:
        self.k = k

    def fit(self, X: np.ndarray, y: np.ndarray) -> BrokenRouter:
        return self
