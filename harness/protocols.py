"""Evaluation protocols: where a trained router's labels come from, relative to what it scores.

* ``transfer`` (the default, the paper's setting): the router is trained on labels from
  other data (SE and accuracy labels of the local pair on NQ/TriviaQA/MAWPS, arena votes)
  and scores the benchmark. Labels that share questions with the benchmark (arena votes on
  MT-Bench) are folded by question (:mod:`harness.pipeline`).
* ``cross-fit``: labels from the scored benchmark itself (the ``outcomes`` source of the
  evaluated pair). The benchmark's questions are split into ``n_folds`` folds (seeded by
  the run's seed, logged as ``fold_seed``); each fold is scored by a router fitted on the
  other folds' labels only, so no prompt, and no prompt of its question group
  (:func:`question_keys`), is ever scored by a router that saw it. Decontamination runs
  within each fold against that fold's training prompts.
* ``leave-one-benchmark-out``: labels from the *other* benchmarks of the same model pair
  (outcome labels), e.g. trained on MMLU's 14,037 outcomes and scored on GSM8K. The training
  benchmarks are named in every run (``train_benchmarks``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.records import Benchmark

TRANSFER = "transfer"
CROSS_FIT = "cross-fit"
LEAVE_ONE_BENCHMARK_OUT = "leave-one-benchmark-out"
PROTOCOLS: tuple[str, ...] = (TRANSFER, CROSS_FIT, LEAVE_ONE_BENCHMARK_OUT)
_ALIASES = {
    "crossfit": CROSS_FIT,
    "cross_fit": CROSS_FIT,
    "lobo": LEAVE_ONE_BENCHMARK_OUT,
    "leave_one_benchmark_out": LEAVE_ONE_BENCHMARK_OUT,
}
DEFAULT_CROSS_FIT_FOLDS = 5
#: The label source whose ``benchmarks`` parameter the protocols fill in.
OUTCOME_LABELS = "outcomes"

#: How reports title each protocol (with where its labels come from).
PROTOCOL_TITLES = {
    TRANSFER: "transfer (labels from other data)",
    CROSS_FIT: "cross-fit (the benchmark's own outcomes, k folds by question)",
    LEAVE_ONE_BENCHMARK_OUT: "leave-one-benchmark-out (outcomes of the other benchmarks)",
}


def check_protocol(name: str | None) -> str:
    """The canonical protocol name, or a ConfigError listing the known ones."""
    if name is None:
        return TRANSFER
    canonical = _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if canonical not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}")
    return canonical


def question_keys(benchmark: Benchmark) -> list[str]:
    """The unit a split keeps whole: the benchmark's group where groups are questions
    (MT-Bench question ids, a custom file's ``group`` column), else the prompt text (so a
    text occurring twice, as in MMLU, lands on one side). MMLU's groups are subjects
    (``meta["group_kind"] = "subject"``), far coarser than a question."""
    if benchmark.groups is not None and benchmark.meta.get("group_kind", "question") == "question":
        return [str(g) for g in benchmark.groups]
    return list(benchmark.prompts)


def benchmark_ref(benchmark: Benchmark) -> str:
    """What ``load_benchmark`` reloads ``benchmark`` from: a custom file's path, else its name."""
    from pathlib import Path

    source = benchmark.meta.get("source")
    if isinstance(source, str) and Path(source).is_file():
        return source
    return benchmark.name


def fold_of_questions(keys: Sequence[str], n_folds: int, seed: int) -> np.ndarray:
    """A fold index (0..n_folds-1) per row: whole questions, shuffled by ``seed``."""
    unique = sorted(set(keys))
    if n_folds < 2:
        raise ConfigError(f"cross-fit needs n_folds >= 2, got {n_folds}")
    if len(unique) < n_folds:
        raise ConfigError(
            f"cross-fit with n_folds={n_folds} needs at least that many questions; the "
            f"benchmark has {len(unique)}"
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    fold = {unique[i]: rank % n_folds for rank, i in enumerate(order)}
    return np.array([fold[k] for k in keys], dtype=np.int64)


def leave_one_out_benchmarks(
    held_out: str, candidates: Sequence[str], pair_of: Callable[[str], tuple[str, str]]
) -> tuple[str, ...]:
    """The candidates other than ``held_out`` that share its (weak, strong) model pair."""
    pair = pair_of(held_out)
    others = tuple(c for c in candidates if c != held_out and pair_of(c) == pair)
    if not others:
        raise ConfigError(
            f"leave-one-benchmark-out on {held_out!r}: no other benchmark among "
            f"{list(candidates)} has its model pair ({pair[0]} vs {pair[1]}); add one or "
            "name them with train_benchmarks"
        )
    return others


def protocol_label_params(
    protocol: str,
    labels: str | None,
    label_params: Mapping[str, Any] | None,
    benchmark: str,
    train_benchmarks: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The label-source parameters a protocol implies for ``benchmark``.

    ``cross-fit`` with outcome labels trains on the scored benchmark; ``leave-one-benchmark-
    out`` trains on ``train_benchmarks`` (outcome labels only). Anything else is unchanged.
    """
    params = dict(label_params or {})
    protocol = check_protocol(protocol)
    if protocol == TRANSFER:
        return params
    if labels != OUTCOME_LABELS:
        if protocol == LEAVE_ONE_BENCHMARK_OUT:
            raise ConfigError(
                f"protocol {protocol} trains on other benchmarks' outcomes: use labels "
                f"'{OUTCOME_LABELS}' (got {labels!r})"
            )
        return params  # cross-fit of labels that share prompts with the benchmark
    if protocol == CROSS_FIT:
        given = params.get("benchmarks")
        if given and list(_as_list(given)) != [benchmark]:
            raise ConfigError(
                f"protocol cross-fit scores {benchmark!r} with its own outcomes; drop "
                f"label param benchmarks={given!r} (or use leave-one-benchmark-out)"
            )
        params["benchmarks"] = (benchmark,)
        return params
    train = tuple(train_benchmarks or _as_list(params.get("benchmarks") or ()))
    if not train:
        raise ConfigError(
            f"leave-one-benchmark-out on {benchmark!r}: name the training benchmarks "
            "(--train-benchmarks or label param benchmarks=...)"
        )
    if benchmark in train:
        raise ConfigError(
            f"leave-one-benchmark-out on {benchmark!r}: it is also a training benchmark "
            f"({list(train)}); leave it out"
        )
    params["benchmarks"] = train
    return params


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]
