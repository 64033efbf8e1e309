"""Outcome labels: a benchmark's own per-model outcomes as preference records.

RouterBench-style studies train routers on the evaluated pair's outcomes: on each prompt of
a benchmark both the weak and the strong model were graded (GSM8K/MMLU: right or wrong;
MT-Bench: a 1-10 judge score), and the label says who did better:

* strong wins where ``strong − weak > margin`` (0/1 outcomes with ``margin`` 0: only the
  strong model is right);
* weak wins where ``weak − strong > margin``;
* a tie otherwise (both right, both wrong, or scores within the margin).

Any registered benchmark (``gsm8k``, ``mmlu``, ``mt_bench``, ``gsm8k_qwen``, plugins) or a
custom benchmark file works; several benchmarks are concatenated (they must share the model
pair). Used on the benchmark it is scored on, these labels leak by construction: the
evaluation protocols (:mod:`harness.protocols`) keep every scored prompt out of its router's
training data (``cross-fit``) or train on the other benchmarks only
(``leave-one-benchmark-out``). Each record keeps ``benchmark``, ``prompt_id`` and ``group``
(the question key of :func:`harness.protocols.question_keys`) so folds can be checked by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness.errors import ConfigError
from harness.labels.base import LabelSource
from harness.records import Benchmark, LabelSet
from harness.search_space import FloatRange, ParamSpec


def outcome_winners(weak: np.ndarray, strong: np.ndarray, margin: float) -> np.ndarray:
    """Per prompt: 1 strong won, 0 weak won, 0.5 tie (the rule in the module docstring)."""
    diff = np.asarray(strong, dtype=float) - np.asarray(weak, dtype=float)
    return np.where(diff > margin, 1.0, np.where(diff < -margin, 0.0, 0.5))


def outcome_records(benchmark: Benchmark, margin: float) -> pd.DataFrame:
    """The paper's record schema for one benchmark (model_a = weak, model_b = strong)."""
    from harness.protocols import question_keys

    y = outcome_winners(benchmark.weak_score, benchmark.strong_score, margin)
    empty = [""] * len(benchmark)
    return pd.DataFrame(
        {
            "id": [f"{benchmark.name}:{pid}" for pid in benchmark.prompt_ids],
            "model_a": benchmark.weak_model,
            "model_b": benchmark.strong_model,
            "prompt": list(benchmark.prompts),
            "response_a": benchmark.weak_response or empty,
            "response_b": benchmark.strong_response or empty,
            "winner_model_a": (y == 0.0).astype(int),
            "winner_model_b": (y == 1.0).astype(int),
            "winner_tie": (y == 0.5).astype(int),
            "group": [f"{benchmark.name}:{k}" for k in question_keys(benchmark)],
            "benchmark": benchmark.name,
            "prompt_id": list(benchmark.prompt_ids),
            "weak_score": benchmark.weak_score,
            "strong_score": benchmark.strong_score,
        }
    )


class OutcomeLabels(LabelSource):
    """Labels from benchmarks' own weak/strong outcomes (module docstring).

    Args:
        benchmarks: registry names or custom benchmark files whose outcomes become labels.
            Left empty, an evaluation protocol fills it in (``cross-fit``: the scored
            benchmark; ``leave-one-benchmark-out``: the other benchmarks of the same pair).
        margin: for numeric outcomes (MT-Bench judge scores), the difference a model must
            exceed to win; smaller differences are ties. 0 keeps every difference.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {"margin": FloatRange(0.0, 2.0)}

    def __init__(self, benchmarks: tuple[str, ...] = (), margin: float = 0.0) -> None:
        self.benchmarks = benchmarks
        self.margin = margin

    def names(self) -> list[str]:
        """``benchmarks`` as a list (a single string is one benchmark)."""
        value: Any = self.benchmarks
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return [str(v) for v in value]

    def load(self, data_dir: Path) -> LabelSet:
        from harness.benchmarks import load_benchmark

        names = self.names()
        if not names:
            raise ConfigError(
                "label source 'outcomes' needs benchmarks=<name or file>[,...] (or an "
                "evaluation protocol, cross-fit or leave-one-benchmark-out, that fills it in)"
            )
        margin = float(self.margin)
        if margin < 0:
            raise ConfigError(f"label source 'outcomes': margin must be >= 0, got {margin}")
        benches = [load_benchmark(name, data_dir) for name in names]
        pairs = {(b.weak_model, b.strong_model) for b in benches}
        if len(pairs) > 1:
            listed = "; ".join(f"{b.name}: {b.weak_model} vs {b.strong_model}" for b in benches)
            raise ConfigError(
                f"label source 'outcomes': benchmarks {names} hold different model pairs "
                f"({listed}); labels must come from one weak/strong pair"
            )
        records = pd.concat([outcome_records(b, margin) for b in benches], ignore_index=True)
        weak, strong = pairs.pop()
        if records["winner_tie"].all():
            raise ConfigError(
                f"label source 'outcomes': margin={margin} makes every prompt of {names} a "
                "tie; lower the margin"
            )
        meta: dict[str, Any] = {
            "benchmarks": ",".join(b.name for b in benches),
            "margin": margin,
            "weak_model": weak,
            "strong_model": strong,
            "n_records": len(records),
            "strong_wins": int(records["winner_model_b"].sum()),
            "weak_wins": int(records["winner_model_a"].sum()),
            "ties": int(records["winner_tie"].sum()),
        }
        return LabelSet(
            records=records,
            strong_models=frozenset({strong}),
            weak_models=frozenset({weak}),
            source="outcomes",
            meta=meta,
        )
