"""Typed records shared by every part: label sets and benchmarks.

Label records follow the paper's schema (phase 3): ``id, model_a, model_b, prompt,
response_a, response_b, winner_model_a, winner_model_b, winner_tie`` with 0/1 in the last
three. A :class:`LabelSet` wraps such a table together with which models are "strong" and
which are "weak", so routers get one target per prompt: 1.0 strong won, 0.0 weak won,
0.5 tie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

LABEL_COLUMNS: tuple[str, ...] = (
    "id",
    "model_a",
    "model_b",
    "prompt",
    "response_a",
    "response_b",
    "winner_model_a",
    "winner_model_b",
    "winner_tie",
)


@dataclass
class LabelSet:
    """Preference labels in the paper's record schema.

    Attributes:
        records: one row per comparison, columns :data:`LABEL_COLUMNS` (extra columns such
            as ``group`` (a fold key), ``dataset``, ``se_a``/``se_b`` are allowed).
        strong_models: names counted as the strong tier.
        weak_models: names counted as the weak tier.
        source: the label source's registry name.
        meta: provenance logged with every run (label model pair, data hashes, τ, ...).
    """

    records: pd.DataFrame
    strong_models: frozenset[str]
    weak_models: frozenset[str]
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in LABEL_COLUMNS if c not in self.records.columns]
        if missing:
            raise ValueError(f"label records from {self.source!r} lack columns {missing}")

    def targets(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows whose two models sit in different tiers, and y = P(strong wins) per row.

        Returns the kept records (with the index reset) and a float array: 1.0 when the
        strong-tier model won, 0.0 when the weak-tier model won, 0.5 for a tie.
        """
        r = self.records
        a_strong = r["model_a"].isin(self.strong_models)
        b_strong = r["model_b"].isin(self.strong_models)
        a_weak = r["model_a"].isin(self.weak_models)
        b_weak = r["model_b"].isin(self.weak_models)
        cross = (a_strong & b_weak) | (a_weak & b_strong)
        kept = r[cross].reset_index(drop=True)
        a_is_strong = kept["model_a"].isin(self.strong_models).to_numpy()
        win_a = kept["winner_model_a"].to_numpy(dtype=float)
        win_b = kept["winner_model_b"].to_numpy(dtype=float)
        strong_won = np.where(a_is_strong, win_a, win_b)
        weak_won = np.where(a_is_strong, win_b, win_a)
        y = np.where(strong_won > 0, 1.0, np.where(weak_won > 0, 0.0, 0.5))
        return kept, y


@dataclass
class Benchmark:
    """A routing benchmark: prompts with the weak and strong model's outcome on each.

    Attributes:
        name: registry name ("gsm8k", "mmlu", "mt_bench", or a custom file's stem).
        prompt_ids: a stable id per prompt (string).
        prompts: the text the router sees (MT-Bench: turn 1).
        weak_score / strong_score: per-prompt outcome (bool accuracy as 0/1, or a judge
            score); the benchmark score of a system is the mean.
        weak_model / strong_model: the model pair the outcomes come from.
        weak_response / strong_response: response texts when the data has them.
        weak_cost / strong_cost: USD per prompt when known.
        groups: a fold key per prompt (MT-Bench question id) for leak-free splits.
        source_sha256: file name → sha256 of each data file read (logged with runs).
        dropped_contaminated: how many prompts the decontamination lists removed.
    """

    name: str
    prompt_ids: list[str]
    prompts: list[str]
    weak_score: np.ndarray
    strong_score: np.ndarray
    weak_model: str
    strong_model: str
    weak_response: list[str] | None = None
    strong_response: list[str] | None = None
    weak_cost: np.ndarray | None = None
    strong_cost: np.ndarray | None = None
    groups: list[str] | None = None
    source_sha256: dict[str, str] = field(default_factory=dict)
    dropped_contaminated: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, mask: np.ndarray) -> Benchmark:
        """The benchmark restricted to the prompts where ``mask`` is true."""
        idx = np.flatnonzero(mask)

        def pick(seq: list[str] | None) -> list[str] | None:
            return None if seq is None else [seq[i] for i in idx]

        def pick_arr(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return Benchmark(
            name=self.name,
            prompt_ids=[self.prompt_ids[i] for i in idx],
            prompts=[self.prompts[i] for i in idx],
            weak_score=self.weak_score[idx],
            strong_score=self.strong_score[idx],
            weak_model=self.weak_model,
            strong_model=self.strong_model,
            weak_response=pick(self.weak_response),
            strong_response=pick(self.strong_response),
            weak_cost=pick_arr(self.weak_cost),
            strong_cost=pick_arr(self.strong_cost),
            groups=pick(self.groups),
            source_sha256=dict(self.source_sha256),
            dropped_contaminated=self.dropped_contaminated,
            meta=dict(self.meta),
        )
