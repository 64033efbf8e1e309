"""The four plugin registries and the built-ins they start with.

Built-ins are registered as lazy ``"module:attr"`` targets so that ``routerlab --help`` or
listing names imports neither torch nor sentence-transformers. Third-party distributions
add entries through the entry-point groups named below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.records import Benchmark
from harness.registry import Registry, RegistryError
from routers.base import Router, validate_router_class


def _validate_label_source(name: str, cls: object) -> None:
    from harness.labels.base import validate_label_source_class

    validate_label_source_class(name, cls)


def _validate_benchmark(name: str, loader: object) -> None:
    if not callable(loader):
        raise TypeError(
            f"benchmark loader {loader!r} is not callable (want f(data_dir) -> Benchmark)"
        )


def _validate_judge(name: str, cls: object) -> None:
    from judges.base import validate_judge_class

    validate_judge_class(name, cls)


ROUTERS: Registry[type[Router]] = Registry(
    "router", "routerlab.routers", validate=validate_router_class
)
LABEL_SOURCES: Registry[Any] = Registry(
    "label source", "routerlab.label_sources", validate=_validate_label_source
)
BENCHMARKS: Registry[Callable[[Path], Benchmark]] = Registry(
    "benchmark", "routerlab.benchmarks", validate=_validate_benchmark
)
JUDGES: Registry[Any] = Registry("judge", "routerlab.judges", validate=_validate_judge)

# Built-ins (lazy). Each module named here must exist; tests check every name loads.
ROUTERS.register("random", target="routers.random:RandomRouter")
ROUTERS.register("sw_ranking", target="routers.sw_ranking:SWRankingRouter")
ROUTERS.register("mf", target="routers.mf:MFRouter")
ROUTERS.register("knn", target="routers.knn:KNNRouter")
ROUTERS.register("logreg", target="routers.logreg:LogRegRouter")
ROUTERS.register("mlp", target="routers.mlp:MLPRouter")
ROUTERS.register("blend", target="routers.blend:BlendRouter")

LABEL_SOURCES.register("accuracy", target="harness.labels.accuracy:AccuracyLabels")
LABEL_SOURCES.register("arena", target="harness.labels.arena:ArenaLabels")
LABEL_SOURCES.register("se", target="harness.labels.se.source:SELabels")
LABEL_SOURCES.register("outcomes", target="harness.labels.outcomes:OutcomeLabels")
LABEL_SOURCES.register(
    "sampled_accuracy", target="harness.labels.sampled_accuracy:SampledAccuracyLabels"
)

BENCHMARKS.register("gsm8k", target="harness.benchmarks.routellm:load_gsm8k")
BENCHMARKS.register("mmlu", target="harness.benchmarks.routellm:load_mmlu")
BENCHMARKS.register("mt_bench", target="harness.benchmarks.routellm:load_mt_bench")
# Table 2's second pair (local Qwen 0.5B vs 1.5B on GSM8K), built by
# `routerlab benchmark build-local-gsm8k`; outcomes committed, question text joined at load.
BENCHMARKS.register("gsm8k_qwen", target="harness.benchmarks.local_pair:load_gsm8k_local")
# ... and on 1,000 MMLU test questions stratified over subjects (`build-local-mmlu`).
BENCHMARKS.register("mmlu_qwen", target="harness.benchmarks.local_pair:load_mmlu_local")

JUDGES.register("best_of_three", target="judges.best_of_three:BestOfThreeJudge")


def check_router_params(router: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """A registered router's keyword values, checked against its declarations (no data
    loaded, no class built); see :func:`harness.params.check_params`."""
    from harness.params import check_params

    try:
        cls = ROUTERS.get(router)
    except RegistryError as exc:  # an unknown name: one line with "did you mean"
        raise ConfigError(str(exc)) from None
    return check_params(cls, params, f"{where} (router {router})")


def check_label_params(source: str, params: dict[str, Any], where: str) -> dict[str, Any]:
    """A registered label source's keyword values, checked like :func:`check_router_params`."""
    from harness.params import check_params

    try:
        cls = LABEL_SOURCES.get(source)
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    return check_params(cls, params, f"{where} (label source {source})")
