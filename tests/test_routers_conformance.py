"""Every built-in router passes the conformance suite shipped in harness.testing."""

from __future__ import annotations

from typing import Any, ClassVar

from harness.plugins import ROUTERS
from harness.testing import RouterConformanceTests
from routers.blend import BlendRouter
from routers.knn import KNNRouter
from routers.logreg import LogRegRouter
from routers.mf import MFRouter
from routers.mlp import MLPRouter
from routers.random import RandomRouter
from routers.sw_ranking import SWRankingRouter


class TestSWRankingConformance(RouterConformanceTests):
    router_class = SWRankingRouter
    router_params: ClassVar[dict[str, Any]] = {"chunk_size": 16}  # exercise chunking


class TestSWRankingTrainMaxConformance(RouterConformanceTests):
    router_class = SWRankingRouter
    router_params: ClassVar[dict[str, Any]] = {"similarity_norm": "train_max", "chunk_size": 16}


class TestKNNConformance(RouterConformanceTests):
    router_class = KNNRouter
    router_params: ClassVar[dict[str, Any]] = {"chunk_size": 16}


class TestKNNLargeKConformance(RouterConformanceTests):
    router_class = KNNRouter
    router_params: ClassVar[dict[str, Any]] = {"k": 7, "weights": "similarity"}


class TestMLPConformance(RouterConformanceTests):
    router_class = MLPRouter
    router_params: ClassVar[dict[str, Any]] = {"epochs": 3}


class TestMFConformance(RouterConformanceTests):
    router_class = MFRouter
    router_params: ClassVar[dict[str, Any]] = {"epochs": 3}


class TestLogRegConformance(RouterConformanceTests):
    router_class = LogRegRouter


class TestBlendConformance(RouterConformanceTests):
    router_class = BlendRouter
    router_params: ClassVar[dict[str, Any]] = {"k": 3}


class TestRandomConformance(RouterConformanceTests):
    router_class = RandomRouter
    # RandomRouter draws one stream per score() call, so a row's score depends on the batch.
    batch_invariant = False


COVERED = {
    cls for name, cls in globals().items()
    if name.startswith("Test") and isinstance(cls, type) and issubclass(cls, RouterConformanceTests)
}


def test_every_builtin_router_is_covered() -> None:
    builtin = ("random", "sw_ranking", "mf", "knn", "mlp", "logreg", "blend")
    covered = {c.router_class for c in COVERED}
    for name in builtin:
        assert ROUTERS.get(name) in covered, f"router {name!r} has no conformance test class"
