"""Calibrate the embedding NLI threshold against an LLM entailment judge.

The embedding backend calls two answers equivalent when their cosine similarity reaches a
threshold; the LLM judge (Farquhar et al. 2024's prompt, asked in both directions) is slower
(seconds per pair on a CPU) but reads meaning. On a sample of answer pairs drawn from a label
set's stored samples (two different answers of one model to one prompt; pairs that the
clustering settles without NLI, equal normal forms or two plain numbers, are left out), this
finds the threshold at which the embedding agrees most with the judge's bidirectional
entailment, and reports the agreement and Cohen's κ at each threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.labels.se.clustering import _is_number, normalize_answer
from harness.labels.se.nli import EmbeddingNLI, NLIBackend


def answer_pairs(table: pd.DataFrame, n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Up to ``n`` (prompt-question, answer, answer) triples from a label table with
    ``samples_a``/``samples_b`` and a ``prompt`` column, one pair per (prompt, model)."""
    rng = np.random.default_rng(seed)
    pairs: list[tuple[str, str, str]] = []
    for i in rng.permutation(len(table)):
        row = table.iloc[int(i)]
        for side in ("a", "b"):
            forms: dict[str, str] = {}
            for s in row[f"samples_{side}"]:
                forms.setdefault(normalize_answer(str(s)), str(s))
            candidates = [
                (x, y)
                for j, x in enumerate(forms)
                for y in list(forms)[j + 1 :]
                if x and y and not (_is_number(x) and _is_number(y))
            ]
            if candidates:
                x, y = candidates[int(rng.integers(len(candidates)))]
                pairs.append((str(row["prompt"]), forms[x], forms[y]))
        if len(pairs) >= n:
            break
    return pairs[:n]


@dataclass
class Calibration:
    """Per threshold: agreement with the judge and Cohen's κ; the best threshold."""

    table: pd.DataFrame
    best_threshold: float
    judge_equivalent_share: float
    n_pairs: int

    #: fewer pairs than this on either side of the judge's verdict and κ cannot rank the
    #: thresholds (with 1 equivalent pair in 100, every high threshold agrees 99 %, κ ≈ 0)
    MIN_PER_CLASS = 5

    def advice(self) -> str:
        """The threshold to use, or why this sample cannot choose one."""
        equivalent = round(self.judge_equivalent_share * self.n_pairs)
        if min(equivalent, self.n_pairs - equivalent) < self.MIN_PER_CLASS:
            return (
                f"not calibrated: the judge calls {equivalent} of {self.n_pairs} pairs "
                f"equivalent, too few of one kind for Cohen's kappa to rank thresholds; "
                "judge more pairs (--pairs) or a label set whose samples agree more often"
            )
        return (
            f"best threshold (Cohen's kappa): {self.best_threshold:.2f}; "
            f"use --nli embedding:{self.best_threshold:.2f}"
        )


def calibrate_threshold(
    pairs: list[tuple[str, str, str]],
    judge: NLIBackend,
    *,
    embedding: EmbeddingNLI | None = None,
    thresholds: np.ndarray | None = None,
) -> Calibration:
    """Judge each pair both ways, embed both answers, and sweep the threshold."""
    if not pairs:
        raise ValueError("no answer pairs to calibrate on")
    forward = judge.entails(pairs)
    backward = judge.entails([(q, b, a) for q, a, b in pairs])
    same = np.array(forward, bool) & np.array(backward, bool)
    emb = embedding or EmbeddingNLI()
    texts = sorted({t for _, a, b in pairs for t in (a, b)})
    vectors = dict(zip(texts, emb._embed(texts), strict=True))
    sims = np.array([float(vectors[a] @ vectors[b]) for _, a, b in pairs])
    grid = thresholds if thresholds is not None else np.round(np.arange(0.50, 1.0, 0.01), 2)
    rows = []
    for t in grid:
        pred = sims >= t
        agree = float((pred == same).mean())
        p_yes = pred.mean() * same.mean() + (1 - pred.mean()) * (1 - same.mean())
        kappa = (agree - p_yes) / (1 - p_yes) if p_yes < 1 else float("nan")
        rows.append({"threshold": float(t), "agreement": agree, "kappa": float(kappa)})
    table = pd.DataFrame(rows)
    best = table.sort_values(["kappa", "agreement"], ascending=False).iloc[0]
    return Calibration(
        table=table,
        best_threshold=float(best["threshold"]),
        judge_equivalent_share=float(same.mean()),
        n_pairs=len(pairs),
    )
