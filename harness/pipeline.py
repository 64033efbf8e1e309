"""From a label source and a router to scores on a benchmark.

``router_scores`` runs the seam the whole grid shares:

1. labels: a :class:`~harness.records.LabelSet` (or a label-source name + params, loaded
   from the data dir) → training prompts and targets y = P(strong wins)
   (:meth:`LabelSet.targets`: 1 strong won, 0 weak won, 0.5 tie);
2. embeddings of training and benchmark prompts (:func:`harness.embeddings.embed`, cached
   on disk); with ``features="embedding+stats"`` each row is followed by text statistics
   standardised on the fold's training prompts (:mod:`harness.prompt_features`);
3. decontamination, RouteLLM's rule: a benchmark prompt whose cosine similarity to any
   training prompt is ≥ ``decontaminate`` (0.95) is dropped, and the count is reported;
4. fit the router, score the kept benchmark prompts.

Folds by question. When the label records carry a ``group`` (the arena votes: the MT-Bench
question id) that is also a benchmark group (MT-Bench's ``groups``), labels and benchmark
share prompts. Then every benchmark question is scored by a router fitted on the labels of
*other* questions only (leave-one-question-out by default, or ``n_folds`` folds of whole
questions), and decontamination compares each question with its own fold's training prompts.
Benchmark prompts whose group has no labels are scored by a router fitted on all labels.

Cross-fit (``protocol="cross-fit"``, :mod:`harness.protocols`): labels from the scored
benchmark itself. Benchmark questions are split into ``n_folds`` seeded folds; a label record
belongs to the fold of the benchmark prompt it describes (same ``benchmark`` and
``prompt_id`` columns, as outcome labels carry, else the same prompt text), and each fold is
scored by a router fitted on the records of the other folds. Records that describe no
benchmark prompt train every fold. :attr:`ScoredBenchmark.folds` lists, per fold, the
training record ids and the scored prompt ids, so leaks can be checked by id.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedding_input import embedding_texts
from harness.embeddings import DEFAULT_MODEL, embed, truncated_count
from harness.errors import ConfigError, DataError
from harness.params import coerce_list_params
from harness.prompt_features import (
    EMBEDDING,
    StatisticsScaler,
    check_features,
    text_statistics,
    uses_statistics,
)
from harness.protocols import (
    CROSS_FIT,
    DEFAULT_CROSS_FIT_FOLDS,
    check_protocol,
    fold_of_questions,
    question_keys,
)
from harness.records import Benchmark, LabelSet
from routers.base import Router

logger = logging.getLogger(__name__)
# Truncation warnings already given in this process: a study scores the same benchmark with
# dozens of routers, and one warning per (texts, model) says all there is to say.
_TRUNCATION_WARNED: set[tuple[str, str, int, int]] = set()
# Likewise the decontamination count: tuning trials rescore the same folds many times.
_DECONTAMINATION_NOTED: set[tuple[str, int, int, float | None]] = set()

DECONTAMINATION_THRESHOLD = 0.95  # RouteLLM's rule


@dataclass
class Fold:
    """One fitted router of a run: the label records it saw and the prompts it scored."""

    index: int
    train_ids: list[str]
    scored_ids: list[str]


@dataclass
class ScoredBenchmark:
    """Router scores on a benchmark, with the benchmark actually scored.

    Attributes:
        scores: P(strong wins) per prompt of ``benchmark`` (higher → strong model).
        benchmark: the input benchmark minus the prompts dropped as near-duplicates of
            training prompts.
        n_dropped: how many prompts decontamination dropped.
        info: flat, loggable facts (label source, sizes, folds, embedding model, timings).
        dropped_ids: prompt ids of the dropped prompts.
        label_set: the labels the router was trained on (None for label-free routers).
        folds: per fitted router, its training record ids and scored prompt ids.
    """

    scores: np.ndarray
    benchmark: Benchmark
    n_dropped: int
    info: dict[str, Any] = field(default_factory=dict)
    dropped_ids: list[str] = field(default_factory=list)
    label_set: LabelSet | None = None
    folds: list[Fold] = field(default_factory=list)


def build_router(router: str | Router, params: dict[str, Any] | None, seed: int) -> Router:
    """A fresh router from a registry name or an instance, with ``params`` applied.

    ``seed`` becomes the router's ``seed`` hyper-parameter unless ``params`` sets one.
    """
    from harness.plugins import ROUTERS
    from harness.registry import RegistryError

    params = dict(params or {})
    if isinstance(router, Router):
        instance = router.clone()
    else:
        try:
            cls = ROUTERS.get(router)
        except RegistryError as exc:
            raise ConfigError(str(exc)) from None
        instance = cls()
    if "seed" in instance.param_names() and "seed" not in params:
        params["seed"] = seed
    try:
        instance.set_params(**coerce_list_params(type(instance), params))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return instance


def resolve_params(
    router: str,
    router_params: dict[str, Any] | None,
    labels: str | None = None,
    label_params: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every keyword parameter of the router (``"router"``) and the label source
    (``"labels"``), defaults included, as constructing them with these params gives.

    Constructing a plugin is cheap (heavy imports happen in fit/load). An unknown keyword
    raises TypeError naming it."""
    from harness.plugins import LABEL_SOURCES, ROUTERS
    from harness.registry import RegistryError

    try:
        router_cls = ROUTERS.get(router)
        source_cls = LABEL_SOURCES.get(labels) if labels is not None else None
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    resolved: dict[str, dict[str, Any]] = {
        "router": router_cls(**dict(router_params or {})).get_params()
    }
    if source_cls is not None:
        resolved["labels"] = source_cls(**dict(label_params or {})).get_params()
    return resolved


def load_labels(
    labels: LabelSet | str, params: dict[str, Any] | None, data_dir: Path
) -> LabelSet:
    """A label set as given, or loaded by label-source name with ``params`` (through the
    one label cache, :mod:`harness.labels.cache`)."""
    if isinstance(labels, LabelSet):
        return labels
    from harness.labels.cache import load_label_set

    return load_label_set(labels, params, data_dir)


def max_similarity(queries: np.ndarray, train: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Per query row, the largest cosine similarity to any training row (-1 if none)."""
    out = np.full(queries.shape[0], -1.0, dtype=np.float32)
    if train.shape[0] == 0 or queries.shape[1] == 0:
        return out
    for start in range(0, queries.shape[0], chunk):
        out[start : start + chunk] = (queries[start : start + chunk] @ train.T).max(axis=1)
    return out


# Decontamination's similarities by (queries, training rows) digest. A study decontaminates
# one benchmark against one label set once per router and training fraction; hashing the
# two matrices costs a third of the product on MMLU.
_SIMILARITIES: OrderedDict[str, np.ndarray] = OrderedDict()
_SIMILARITIES_MAX = 32


def _digest(prefix: str, *arrays: np.ndarray) -> str:
    """A key for ``arrays`` (dtype, shape and bytes) after ``prefix``."""
    digest = hashlib.blake2b(prefix.encode(), digest_size=16)
    for array in arrays:
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _decontamination_similarity(queries: np.ndarray, train: np.ndarray) -> np.ndarray:
    key = _digest("", queries, train)
    if key in _SIMILARITIES:
        _SIMILARITIES.move_to_end(key)
        return _SIMILARITIES[key]
    sims = max_similarity(queries, train)
    _SIMILARITIES[key] = sims
    while len(_SIMILARITIES) > _SIMILARITIES_MAX:
        _SIMILARITIES.popitem(last=False)
    return sims


def _group_folds(
    bench_groups: list[str], label_groups: np.ndarray, n_folds: int | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training record mask, benchmark row mask) per fold of shared question groups.

    Groups without labels fold last, scored by a router fitted on every label.
    """
    shared = sorted(set(bench_groups) & set(label_groups.tolist()))
    groups_arr = np.asarray(bench_groups)
    if n_folds is None or n_folds >= len(shared):
        blocks = [[g] for g in shared]
    else:
        if n_folds < 2:
            raise ConfigError(
                f"n_folds must be >= 2 or None (one fold per question), got {n_folds}"
            )
        order = np.random.default_rng(seed).permutation(len(shared))
        blocks = [[shared[i] for i in order[k::n_folds]] for k in range(n_folds)]
    folds = [(~np.isin(label_groups, b), np.isin(groups_arr, b)) for b in blocks]
    rest = ~np.isin(groups_arr, shared)
    if rest.any():
        folds.append((np.ones(len(label_groups), dtype=bool), rest))
    return folds


def _fit(
    template: Router, X: np.ndarray, y: np.ndarray, fitted: dict[str, Router] | None
) -> Router:
    """A clone of ``template`` fitted on (X, y), or the same fit from the ``fitted`` memo."""
    if fitted is None:
        return template.clone().fit(X, y)
    cls = type(template)
    params = sorted(template.get_params().items())
    key = _digest(f"{cls.__module__}.{cls.__qualname__}:{params!r}", X, y)
    if key not in fitted:
        fitted[key] = template.clone().fit(X, y)
    return fitted[key]
def _record_folds(records: Any, benchmark: Benchmark, bench_fold: np.ndarray) -> np.ndarray:
    """The fold of each label record: that of the benchmark prompt it describes, else -1."""
    by_id = {pid: f for pid, f in zip(benchmark.prompt_ids, bench_fold.tolist(), strict=True)}
    by_text = {p: f for p, f in zip(benchmark.prompts, bench_fold.tolist(), strict=True)}
    texts = records["prompt"].astype(str).tolist()
    if {"benchmark", "prompt_id"} <= set(records.columns):
        same = (records["benchmark"].astype(str) == benchmark.name).to_numpy()
        ids = records["prompt_id"].astype(str).tolist()
        return np.array(
            [by_id.get(i, -1) if s else by_text.get(t, -1)
             for s, i, t in zip(same, ids, texts, strict=True)],
            dtype=np.int64,
        )
    return np.array([by_text.get(t, -1) for t in texts], dtype=np.int64)


def _cross_fit_folds(
    records: Any, benchmark: Benchmark, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training record mask, benchmark row mask) per cross-fit fold (module docstring)."""
    bench_fold = fold_of_questions(question_keys(benchmark), n_folds, seed)
    record_fold = _record_folds(records, benchmark, bench_fold)
    if (record_fold < 0).all():
        raise DataError(
            f"cross-fit on {benchmark.name!r}: no label record describes a prompt of the "
            "benchmark; use labels from the benchmark itself (--labels outcomes)"
        )
    return [(record_fold != f, bench_fold == f) for f in range(n_folds)]


def _label_free_scores(template: Router, benchmark: Benchmark) -> ScoredBenchmark:
    """Routers that learn nothing (random): no labels, no embeddings, no decontamination."""
    template.fit(np.zeros((0, 0), dtype=np.float32), np.zeros(0))
    t0 = time.perf_counter()
    scores = np.asarray(template.score(np.zeros((len(benchmark), 0), dtype=np.float32)))
    info = {"router": type(template).__name__, "label_source": "none",
            "benchmark": benchmark.name, "n_benchmark_in": len(benchmark),
            "n_benchmark": len(benchmark), "n_dropped": 0, "folds": "none",
            "score_seconds": round(time.perf_counter() - t0, 3)}
    return ScoredBenchmark(scores=scores, benchmark=benchmark, n_dropped=0, info=info)


def router_scores(
    router: str | Router,
    router_params: dict[str, Any] | None,
    labels: LabelSet | str | None,
    label_params: dict[str, Any] | None,
    benchmark: Benchmark,
    *,
    seed: int = 0,
    data_dir: Path | None = None,
    embedding_model: str = DEFAULT_MODEL,
    decontaminate: float | None = DECONTAMINATION_THRESHOLD,
    n_folds: int | None = None,
    show_progress: bool = True,
    fitted: dict[str, Router] | None = None,
    protocol: str = "transfer",
    embedding_input: str = "auto",
    fold_router_params: Sequence[Mapping[str, Any]] | None = None,
    features: str = EMBEDDING,
) -> ScoredBenchmark:
    """Fit ``router`` on ``labels`` and score ``benchmark`` (module docstring).

    Args:
        router: registry name or an (unfitted) instance; ``router_params`` override its
            hyper-parameters.
        labels: a LabelSet or a label-source name loaded with ``label_params``; None only
            for routers that use no embeddings (random), which are then scored as they are.
        benchmark: the benchmark to score.
        seed: the router's seed (where it has one) and the fold shuffle.
        data_dir: data directory for label sources (default ``harness.paths.data_dir()``).
        embedding_model: sentence-transformers model for query embeddings.
        decontaminate: cosine threshold for dropping benchmark prompts; None = keep all.
        n_folds: with shared prompts, the number of question folds (None = one per question).
        fitted: a memo of fitted routers shared between calls (a study passes one): a fit
            with the same router class, hyper-parameters and training rows is reused, not
            redone. Fitting is seeded, so a reused router scores exactly as a refit one; the
            grid fits each (labels, router) once instead of once per benchmark.
        n_folds: with shared prompts, the number of question folds (None = one per question);
            for ``protocol="cross-fit"`` the number of folds (None = 5).
        embedding_input: what part of each prompt is embedded (``auto``, ``full``,
            ``strip-prefix``, ``tail``; :mod:`harness.embedding_input`).
        protocol: ``"transfer"`` (labels from other data, folded only where they share
            questions with the benchmark) or ``"cross-fit"`` (module docstring). The
            leave-one-benchmark-out protocol is a choice of labels
            (:func:`harness.protocols.protocol_label_params`), scored like ``transfer``.
        fold_router_params: cross-fit only: per fold, router parameters over
            ``router_params`` (nested tuning chose them on that fold's training part,
            :mod:`studies.nested_tuning`); one entry per fold.
        features: what the router reads (``embedding`` or ``embedding+stats``:
            :mod:`harness.prompt_features`); the statistics are standardised on each
            fold's training prompts.
    """
    from harness import paths

    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    check_features(features)
    template = build_router(router, router_params, seed)
    if labels is None:
        if template.needs_embeddings:
            raise ConfigError(
                f"router {type(template).__name__} is trained on labels: give a label source "
                "(se, accuracy, arena, ...)"
            )
        return _label_free_scores(template, benchmark)
    label_set = load_labels(labels, label_params, data_dir)
    records, y = label_set.targets()
    if len(records) == 0:
        raise DataError(
            f"label source {label_set.source!r} gave no comparison between the strong tier "
            f"{sorted(label_set.strong_models)} and the weak tier {sorted(label_set.weak_models)}"
        )
    train_prompts = records["prompt"].astype(str).tolist()
    info: dict[str, Any] = {
        "router": type(template).__name__,
        "label_source": label_set.source,
        "n_train": len(records),
        "n_train_unique_prompts": len(set(train_prompts)),
        "train_strong_wins": int((y == 1.0).sum()),
        "train_weak_wins": int((y == 0.0).sum()),
        "train_ties": int((y == 0.5).sum()),
        "benchmark": benchmark.name,
        "n_benchmark_in": len(benchmark),
    }
    info.update({f"labels.{k}": v for k, v in label_set.meta.items()
                 if isinstance(v, str | int | float | bool)})

    if template.needs_embeddings:
        train_texts = embedding_texts(train_prompts, embedding_input)
        bench_texts = embedding_texts(list(benchmark.prompts), embedding_input)
        X_train = embed(train_texts, embedding_model, show_progress=show_progress)
        X_bench = embed(bench_texts, embedding_model, show_progress=show_progress)
        info["embedding_model"] = embedding_model
        info["embedding_input"] = embedding_input
        info["features"] = features
        for side, texts in (("benchmark", bench_texts), ("training", train_texts)):
            cut = truncated_count(texts, embedding_model)
            info[f"embedding_truncated_{side}"] = cut
            what = benchmark.name if side == "benchmark" else f"training ({label_set.source})"
            warned = (what, embedding_model, cut, len(texts))
            if cut and warned not in _TRUNCATION_WARNED:
                _TRUNCATION_WARNED.add(warned)
                logger.warning(
                    "%d of %d %s prompts (%.0f%%) are longer than %s reads and were cut to "
                    "their opening; embedding_input=tail embeds their ends instead",
                    cut, len(texts), what, 100.0 * cut / len(texts), embedding_model,
                )
    else:
        X_train = np.zeros((len(train_prompts), 0), dtype=np.float32)
        X_bench = np.zeros((len(benchmark), 0), dtype=np.float32)
    stats_train = stats_bench = None
    if template.needs_embeddings and uses_statistics(features):
        stats_train = text_statistics(train_prompts)
        stats_bench = text_statistics(list(benchmark.prompts))

    protocol = check_protocol(protocol)
    label_groups = (
        records["group"].astype(str).to_numpy() if "group" in records.columns else None
    )
    if protocol == CROSS_FIT:
        k = int(n_folds) if n_folds is not None else DEFAULT_CROSS_FIT_FOLDS
        folds = _cross_fit_folds(records, benchmark, k, seed)
        info.update(folds="cross-fit", fold_seed=seed)
        if fold_router_params is not None and len(fold_router_params) != k:
            raise ConfigError(
                f"fold_router_params has {len(fold_router_params)} entries for {k} folds; "
                "tune again with the same number of folds"
            )
    elif (
        label_groups is not None
        and benchmark.groups is not None
        and bool(set(benchmark.groups) & set(label_groups.tolist()))
    ):
        folds = _group_folds([str(g) for g in benchmark.groups], label_groups, n_folds, seed)
        info.update(folds="by_group", fold_seed=seed)
    else:
        folds = [(np.ones(len(records), dtype=bool), np.ones(len(benchmark), dtype=bool))]
        info["folds"] = "none"
    info["protocol"] = protocol
    info["n_folds"] = len(folds)

    scores = np.full(len(benchmark), np.nan)
    keep = np.ones(len(benchmark), dtype=bool)
    record_ids = records["id"].astype(str).to_numpy()
    fold_log: list[Fold] = []
    fit_seconds = score_seconds = 0.0
    n_fits = 0
    memo_before = len(fitted) if fitted is not None else 0
    for index, (train_mask, rows) in enumerate(folds):
        if not train_mask.any():
            raise DataError(
                f"fold {index} of {benchmark.name!r} leaves no training labels; use fewer folds"
            )
        idx = np.flatnonzero(rows)
        if decontaminate is not None and template.needs_embeddings:
            sims = _decontamination_similarity(X_bench[idx], X_train[train_mask])
            keep[idx[sims >= decontaminate]] = False
        idx = idx[keep[idx]]
        if idx.size == 0:
            continue
        t0 = time.perf_counter()
        fold_template = template
        if protocol == CROSS_FIT and fold_router_params is not None:
            fold_template = build_router(
                router, {**(router_params or {}), **fold_router_params[index]}, seed
            )
        X_fit, X_score = X_train[train_mask], X_bench[idx]
        if stats_train is not None and stats_bench is not None:
            scaler = StatisticsScaler.fit(stats_train[train_mask])
            X_fit = scaler.append(X_fit, stats_train[train_mask])
            X_score = scaler.append(X_score, stats_bench[idx])
        model = _fit(fold_template, X_fit, y[train_mask], fitted)
        t1 = time.perf_counter()
        scores[idx] = model.score(X_score)
        score_seconds += time.perf_counter() - t1
        fit_seconds += t1 - t0
        n_fits += 1
        fold_log.append(Fold(
            index, record_ids[train_mask].tolist(), [benchmark.prompt_ids[i] for i in idx]
        ))

    n_dropped = int((~keep).sum())
    if n_dropped == len(benchmark):
        raise DataError(
            f"decontamination dropped all {len(benchmark)} prompts of {benchmark.name!r} "
            f"(each has cosine >= {decontaminate} to a training prompt): the labels hold the "
            "benchmark's own prompts (use protocol cross-fit), or the prompts embed alike "
            "(see embedding_input)"
        )
    dropped_ids = [benchmark.prompt_ids[i] for i in np.flatnonzero(~keep)]
    kept = benchmark.subset(keep)
    kept.meta["dropped_similar_to_training"] = n_dropped
    info.update(
        n_dropped=n_dropped,
        n_benchmark=len(kept),
        decontamination_threshold=decontaminate if decontaminate is not None else "off",
        fit_seconds=round(fit_seconds, 3),
        # fits taken from the memo (their fit_seconds are the earlier run's, not counted here)
        fits_reused=n_fits - (len(fitted) - memo_before if fitted is not None else n_fits),
        score_seconds=round(score_seconds, 3),
    )
    dropped_note = (benchmark.name, len(benchmark), n_dropped, decontaminate)
    if n_dropped and dropped_note not in _DECONTAMINATION_NOTED:
        _DECONTAMINATION_NOTED.add(dropped_note)
        logger.info(
            "decontamination dropped %d of %d %s prompts (cosine >= %s to a training prompt)",
            n_dropped, len(benchmark), benchmark.name, decontaminate,
        )
    return ScoredBenchmark(
        scores=scores[keep], benchmark=kept, n_dropped=n_dropped, info=info,
        dropped_ids=dropped_ids, label_set=label_set, folds=fold_log,
    )
