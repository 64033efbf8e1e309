"""k-nearest-neighbour router (TO-Router / the paper's eq. 11-12).

The score of a query is the mean target of its ``k`` nearest training queries by cosine
similarity (k = 1, the paper's setting, returns the nearest query's label). Nearest
neighbours are found exactly, by a chunked similarity matmul; among equally similar
neighbours the earlier training row wins, so results do not depend on BLAS threading.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Choice, IntRange, ParamSpec, Router


class KNNRouter(Router):
    """Mean label of the k most similar training queries.

    Args:
        k: number of neighbours (1 in the paper).
        weights: "uniform" (plain mean) or "similarity" (mean weighted by cosine similarity,
            clipped at 0).
        ties: "both" (a tie label, 0.5, is a neighbour's label like any other) or "drop".
        chunk_size: queries per similarity matmul.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "k": IntRange(1, 100, log=True),
        "weights": Choice(("uniform", "similarity")),
        "ties": Choice(("both", "drop")),
    }

    def __init__(
        self,
        k: int = 1,
        weights: str = "uniform",
        ties: str = "both",
        chunk_size: int = 1024,
    ) -> None:
        self.k = k
        self.weights = weights
        self.ties = ties
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, y: np.ndarray) -> KNNRouter:
        if int(self.k) < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.weights not in ("uniform", "similarity"):
            raise ValueError(f"weights must be 'uniform' or 'similarity', got {self.weights!r}")
        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        self.X_train_ = Xc
        self.y_train_ = yc.astype(np.float64)
        self.prior_ = prior(yc)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        Xq = check_X(X)
        n, n_train = Xq.shape[0], self.X_train_.shape[0]
        if n_train == 0:
            return np.full(n, self.prior_)
        k = min(int(self.k), n_train)
        out = np.empty(n, dtype=np.float64)
        for start in range(0, n, self.chunk_size):
            sims = Xq[start : start + self.chunk_size] @ self.X_train_.T
            if k == 1:
                idx = sims.argmax(axis=1)[:, None]  # first maximum: the earlier row wins
            else:
                # torch.topk is ~10x faster than np.argpartition on rows of 12k similarities
                import torch

                part = torch.topk(torch.from_numpy(sims), k, dim=1, sorted=False).indices.numpy()
                # order the k by (similarity desc, row index asc) for a stable result
                part.sort(axis=1)
                order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
                idx = np.take_along_axis(part, order, axis=1)
            labels = self.y_train_[idx]
            if self.weights == "similarity":
                w = np.clip(np.take_along_axis(sims, idx, axis=1), 0.0, None).astype(np.float64)
                total = w.sum(axis=1)
                mean = labels.mean(axis=1)
                safe = np.where(total > 0, total, 1.0)
                out[start : start + sims.shape[0]] = np.where(
                    total > 0, (w * labels).sum(axis=1) / safe, mean
                )
            else:
                out[start : start + sims.shape[0]] = labels.mean(axis=1)
        return np.clip(out, 0.0, 1.0)
