"""k-nearest-neighbour router (TO-Router / the paper's eq. 11-12).

The score of a query is the mean target of its ``k`` nearest training queries by cosine
similarity (k = 1, the paper's setting, returns the nearest query's label). Nearest
neighbours are found exactly, by a chunked fp32 similarity matmul; among equally similar
neighbours the earlier training row wins.

Duplicates. Vote data holds the same prompt many times with different labels (the MT-Bench
human votes: 818 votes on 80 prompts, 74 of them with conflicting votes). Identical
embeddings are merged at ``fit`` into one row holding their mean label (``duplicates =
"merge"``, the default), so k = 1 returns the nearest prompt's mean vote. Kept apart
(``"keep"``), k = 1 returns one of the votes, and which one can change with the last bits of
the similarity matmul: on GSM8K, 39 of 1,307 queries got different similarities to identical
copies of their nearest prompt, so results differed between CPUs.

Speed. Exact search costs 2·n·d flops per query (9.2 Mflop at 12,000 × 384 rows): ~45 µs per
query on this project's 2-core machine (``bench/routers.py``), close to the bare matmul. The
similarities of a chunk of queries go into one buffer reused across chunks: a fresh 25-50 MB
array per chunk costs its page faults and zeroing every time, ~7 % of the total. Screening
in bfloat16 with an error bound and an exact re-rank was tried: the bf16 matmul is ~2x faster,
but the extra passes over the (queries × rows) similarity matrix cost as much as they save.
Pruning by bounds (PCA residual or cluster radius) does not help either: MMLU queries sit
far from every training prompt (median best cosine ≈ 0.4), so the bounds prune almost nothing.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from harness.search_space import Choice, IntRange, ParamSpec, whole_number
from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Router


class KNNRouter(Router):
    """Mean label of the k most similar training queries.

    Args:
        k: number of neighbours (1 in the paper).
        weights: "uniform" (plain mean) or "similarity" (mean weighted by cosine similarity,
            clipped at 0).
        ties: "both" (a tie label, 0.5, is a neighbour's label like any other) or "drop".
        duplicates: "merge" (identical training embeddings become one row with their mean
            label, at the place of the first) or "keep" (each row is a neighbour).
        chunk_size: queries per similarity matmul; memory is ``chunk_size × n_train`` floats.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "k": IntRange(1, 100, log=True, min=1, max=100_000),
        "weights": Choice(("uniform", "similarity")),
        "ties": Choice(("both", "drop")),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {
        "duplicates": Choice(("merge", "keep")),
        "chunk_size": whole_number(1, 1_000_000),
    }

    def __init__(
        self,
        k: int = 1,
        weights: str = "uniform",
        ties: str = "both",
        duplicates: str = "merge",
        chunk_size: int = 512,
    ) -> None:
        self.k = k
        self.weights = weights
        self.ties = ties
        self.duplicates = duplicates
        self.chunk_size = chunk_size

    def fit(self, X: np.ndarray, y: np.ndarray) -> KNNRouter:
        if int(self.k) < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if int(self.chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.weights not in ("uniform", "similarity"):
            raise ValueError(f"weights must be 'uniform' or 'similarity', got {self.weights!r}")
        if self.duplicates not in ("merge", "keep"):
            raise ValueError(f"duplicates must be 'merge' or 'keep', got {self.duplicates!r}")
        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        if self.duplicates == "merge" and Xc.shape[0] > 1:
            Xc, yc = _merge_duplicates(Xc, yc)
        self.X_train_ = Xc
        self.y_train_ = yc.astype(np.float64)
        self.prior_ = prior(yc)
        return self

    # -- neighbour search -----------------------------------------------------------------
    def _neighbours(
        self, Xq: np.ndarray, k: int, sims: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(indices, similarities) of the k nearest rows, ordered (similarity ↓, index ↑).

        ``sims`` is a (len(Xq), n_train) float32 buffer the similarities are written into.
        """
        np.matmul(Xq, self.X_train_.T, out=sims)
        if k == 1:
            idx = sims.argmax(axis=1)[:, None]  # first maximum: the earlier row wins
        else:
            # torch.topk is ~10x faster than np.argpartition on rows of 12k similarities
            import torch

            part = torch.topk(torch.from_numpy(sims), k, dim=1, sorted=False).indices.numpy()
            part.sort(axis=1)
            order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
            idx = np.take_along_axis(part, order, axis=1)
        return idx, np.take_along_axis(sims, idx, axis=1)

    def kneighbors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices into the fitted training rows and similarities of each query's k nearest."""
        Xq = check_X(X)
        k = min(int(self.k), self.X_train_.shape[0])
        idx = np.zeros((Xq.shape[0], k), dtype=np.int64)
        sims = np.zeros((Xq.shape[0], k), dtype=np.float32)
        chunk_size = int(self.chunk_size)
        buffer = np.empty((min(chunk_size, Xq.shape[0]), self.X_train_.shape[0]), np.float32)
        for start in range(0, Xq.shape[0], chunk_size):
            chunk = Xq[start : start + chunk_size]
            i, s = self._neighbours(chunk, k, buffer[: chunk.shape[0]])
            idx[start : start + chunk.shape[0]] = i
            sims[start : start + chunk.shape[0]] = s
        return idx, sims

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.X_train_.shape[0] == 0:
            return np.full(check_X(X).shape[0], self.prior_)
        idx, sims = self.kneighbors(X)
        labels = self.y_train_[idx]
        if self.weights == "similarity":
            w = np.clip(sims, 0.0, None).astype(np.float64)
            total = w.sum(axis=1)
            safe = np.where(total > 0, total, 1.0)
            out = np.where(total > 0, (w * labels).sum(axis=1) / safe, labels.mean(axis=1))
        else:
            out = labels.mean(axis=1)
        return np.clip(out, 0.0, 1.0)


def _merge_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per distinct embedding, in order of first appearance, with its mean label."""
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(first) == X.shape[0]:
        return X, y
    order = np.argsort(first, kind="stable")  # unique rows back in first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    totals = np.bincount(group, weights=np.asarray(y, dtype=np.float64))
    counts = np.bincount(group)
    return X[first[order]], totals / counts
