"""One record describes a routing system; one function turns it into scores.

:class:`SystemSpec` holds everything that decides a system's scores on a benchmark: the
router and its parameters, the label source and its parameters, the evaluation protocol
(:mod:`harness.protocols`: folds, training benchmarks, per-fold tuned parameters), the seed
and the embedding input. :func:`score_system` is the one function that turns a spec and a
benchmark into per-prompt scores; every entry point goes through it: ``routerlab evaluate``
and the Python API (:func:`harness.evaluation.evaluate`), a study's grid
(:mod:`studies.runner`), tuning trials and nested cross-fit tuning (:mod:`studies.tuning`,
:mod:`studies.nested_tuning`), and the named systems of :mod:`baselines`. Labels come from
the one label cache (:mod:`harness.labels.cache`); fitted routers from the caller's memo.

Routers:

* ``random``: :class:`routers.random.RandomRouter` (uniform scores, seeded);
* ``oracle``: ``strong − weak`` per prompt (the floor of CPT; it sees the outcomes);
* ``scores``: per-prompt scores read from a file (:func:`read_scores_file`), so an external
  router is evaluated without code;
* any registered router, trained on the label source through
  :func:`harness.pipeline.router_scores` (which may decontaminate the benchmark: the
  returned ``benchmark`` is the one the scores match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import metrics as M
from harness import paths
from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.pipeline import router_scores
from harness.prompt_features import EMBEDDING
from harness.protocols import (
    LEAVE_ONE_BENCHMARK_OUT,
    TRANSFER,
    benchmark_ref,
    check_protocol,
    protocol_label_params,
)
from harness.records import Benchmark, LabelSet
from routers.base import Router
from routers.random import RandomRouter

#: Routers handled here rather than trained: they need no labels.
PSEUDO_ROUTERS = ("random", "oracle", "scores")


@dataclass(frozen=True)
class SystemSpec:
    """A routing system, completely: what :func:`score_system` needs besides the benchmark.

    Attributes:
        router: ``random``, ``oracle``, ``scores`` or a registered router name (or an
            unfitted :class:`routers.base.Router` instance, for plugins in notebooks).
        router_params / label_params: keyword parameters over the plugins' defaults.
        labels: label-source name; None for routers that learn nothing.
        protocol: ``transfer``, ``cross-fit`` or ``leave-one-benchmark-out``.
        n_folds: cross-fit's folds (None: 5), or the number of question folds when labels
            share questions with the benchmark (None: one per question).
        train_benchmarks: leave-one-benchmark-out's training benchmarks.
        seed: the router's seed and the folds' shuffle.
        embedding_input: which part of each prompt is embedded (:mod:`harness.embedding_input`).
        features: what the router reads: ``embedding`` or ``embedding+stats``
            (:mod:`harness.prompt_features`).
        fold_router_params: cross-fit with nested-tuned values: one parameter dict per fold.
        scores_file: the ``scores`` router's file.
    """

    router: str | Router
    router_params: Mapping[str, Any] = field(default_factory=dict)
    labels: str | None = None
    label_params: Mapping[str, Any] = field(default_factory=dict)
    protocol: str = TRANSFER
    n_folds: int | None = None
    train_benchmarks: tuple[str, ...] = ()
    seed: int = 0
    embedding_input: str = "auto"
    features: str = EMBEDDING
    fold_router_params: tuple[Mapping[str, Any], ...] = ()
    scores_file: str | Path | None = None

    def with_params(
        self,
        router_params: Mapping[str, Any] | None = None,
        label_params: Mapping[str, Any] | None = None,
    ) -> SystemSpec:
        """This system with some parameters overridden (a tuning trial)."""
        return replace(
            self,
            router_params={**self.router_params, **(router_params or {})},
            label_params={**self.label_params, **(label_params or {})},
        )

    def training_label_params(self, benchmark: Benchmark) -> dict[str, Any]:
        """The label parameters the protocol implies on ``benchmark`` (cross-fit: its own
        outcomes; leave-one-benchmark-out: the training benchmarks')."""
        return protocol_label_params(
            self.protocol, self.labels, dict(self.label_params), benchmark_ref(benchmark),
            self.train_benchmarks or None,
        )


# -- scores from a file ------------------------------------------------------------------------
def read_scores_file(path: str | Path, benchmark: Benchmark) -> np.ndarray:
    """Per-prompt scores from a CSV/JSONL/Parquet file, in the benchmark's order.

    The file has a ``score`` column (a number per row) and either an ``id`` column (matched
    to the benchmark's prompt ids: ``gsm8k-<row>``, ``mmlu-<subject>-<row>``, MT-Bench
    question ids, a custom file's ``id``) or a ``prompt`` column (matched to the prompt text).
    Rows for prompts not in the benchmark are ignored (e.g. decontaminated ones); every
    benchmark prompt needs a score.
    """
    from harness.benchmarks.custom import _read_table

    path = Path(path)
    df = _read_table(path)
    if len(df) == 0:
        raise DataError(f"{path}: no rows; the scores file needs one row per prompt")
    if "score" not in df.columns:
        raise DataError(
            f"{path}: missing column 'score' (found: {', '.join(map(str, df.columns))}); "
            "the scores file needs `id` or `prompt` plus `score`"
        )
    if "id" in df.columns:
        key_col, wanted = "id", benchmark.prompt_ids
    elif "prompt" in df.columns:
        key_col, wanted = "prompt", benchmark.prompts
    else:
        raise DataError(
            f"{path}: needs an 'id' or a 'prompt' column to match scores to {benchmark.name!r}"
        )
    keys = df[key_col].astype(str)
    values = pd.to_numeric(df["score"], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: column 'score' row {row} is {df['score'].iloc[row]!r}; every score must "
            "be a finite number"
        )
    table = pd.DataFrame({"key": keys, "score": values.astype(float)})
    conflicting = table.groupby("key")["score"].nunique()
    conflicting = conflicting[conflicting > 1]
    if len(conflicting):
        raise DataError(
            f"{path}: {key_col} {conflicting.index[0]!r} has different scores on several rows; "
            f"give each {key_col} one score"
        )
    mapping = table.drop_duplicates("key").set_index("key")["score"]
    found = pd.Index(mapping.index)
    missing = [k for k in wanted if k not in found]
    if missing:
        raise DataError(
            f"{path}: no score for {len(missing)} of {len(wanted)} prompts of "
            f"{benchmark.name!r} (first {key_col}: {missing[0][:80]!r}); add them"
        )
    return mapping.reindex(wanted).to_numpy(dtype=float)


# -- the system -> scores ----------------------------------------------------------------------
@dataclass
class RoutedScores:
    """Scores for a benchmark and what produced them."""

    scores: np.ndarray
    benchmark: Benchmark
    params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    label_set: LabelSet | None = None
    folds: list[Any] = field(default_factory=list)

    @property
    def n_dropped(self) -> int:
        """Prompts decontamination dropped before scoring."""
        return int(self.info.get("n_dropped", 0))


def score_system(
    spec: SystemSpec,
    benchmark: Benchmark,
    *,
    data_dir: Path | None = None,
    label_set: LabelSet | None = None,
    fitted: dict[str, Router] | None = None,
    show_progress: bool = True,
) -> RoutedScores:
    """Per-prompt scores of the system ``spec`` on ``benchmark`` (module docstring).

    ``label_set`` replaces the spec's label source with labels the caller derived from it
    (a study's training fraction; nested tuning's labels without the held-out fold).
    ``fitted`` is a memo of fitted routers shared between calls (a study, a tuning run).
    """
    router_params = dict(spec.router_params)
    router = spec.router
    if router == "random":
        r = RandomRouter(seed=int(router_params.get("seed", spec.seed)))
        scores = r.score(np.zeros((len(benchmark), 0)))
        params = {"router": "random", "router_params": r.get_params()}
        return RoutedScores(scores, benchmark, params)
    if router == "oracle":
        scores = M.oracle_scores(benchmark.weak_score, benchmark.strong_score)
        return RoutedScores(scores, benchmark, {"router": "oracle"})
    if router == "scores":
        if spec.scores_file is None:
            raise ConfigError("--router scores needs --scores-file FILE (columns id|prompt, score)")
        path = Path(spec.scores_file)
        scores = read_scores_file(path, benchmark)
        return RoutedScores(
            scores,
            benchmark,
            {"router": "scores", "scores_file": str(path), "scores_sha256": sha256_file(path)},
        )
    if spec.labels is None and label_set is None:
        if isinstance(router, Router) and not router.needs_embeddings:
            scored = router_scores(router, router_params, None, None, benchmark, seed=spec.seed)
            return routed_from_scored(scored, benchmark, {"router": type(router).__name__})
        raise ConfigError(
            f"router {router!r} is trained on labels: add --labels SOURCE "
            "(se, accuracy, arena, outcomes, ...) or use --system NAME"
        )
    protocol = check_protocol(spec.protocol)
    label_params = spec.training_label_params(benchmark) if spec.labels else {}
    scored = router_scores(
        router,
        router_params,
        label_set if label_set is not None else spec.labels,
        label_params,
        benchmark,
        seed=spec.seed,
        data_dir=data_dir if data_dir is not None else paths.data_dir(),
        protocol=protocol,
        n_folds=spec.n_folds,
        embedding_input=spec.embedding_input,
        features=spec.features,
        fitted=fitted,
        show_progress=show_progress,
        fold_router_params=list(spec.fold_router_params) or None,
    )
    trained: dict[str, Any] = {
        "router": router if isinstance(router, str) else type(router).__name__,
        "router_params": router_params,
        "label_source": spec.labels or (label_set.source if label_set is not None else "none"),
        "label_params": label_params,
        "protocol": protocol,
        "features": spec.features,
    }
    if protocol == LEAVE_ONE_BENCHMARK_OUT:
        trained["train_benchmarks"] = ",".join(label_params["benchmarks"])
    return routed_from_scored(scored, benchmark, trained)


def routed_from_scored(scored: Any, benchmark: Benchmark, params: dict[str, Any]) -> RoutedScores:
    """:class:`RoutedScores` from a pipeline result (or a bare score array) and its params."""
    scores = np.asarray(getattr(scored, "scores", scored), dtype=float)
    bench = getattr(scored, "benchmark", None)
    info = dict(getattr(scored, "info", {}) or {})
    if getattr(scored, "n_dropped", None) is not None:
        info["n_dropped"] = int(scored.n_dropped)
    return RoutedScores(
        scores, bench if bench is not None else benchmark, params, info,
        getattr(scored, "label_set", None), list(getattr(scored, "folds", []) or []),
    )
