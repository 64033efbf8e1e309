"""The named routing systems of the paper's Table 1: (label source, router) pairs.

=================  ============  ==========  ==========================================
system             label source  router      what it reproduces
=================  ============  ==========  ==========================================
random             (none)        random      uniform scores
to-router-knn      accuracy      knn (k=1)   TO-Router, kNN
to-router-mlp      accuracy      mlp         TO-Router, MLP
routellm-sw        arena         sw_ranking  RouteLLM, similarity-weighted ranking
routellm-mf        arena         mf          RouteLLM, matrix factorisation
confidence-sw      se            sw_ranking  Confidence-Driven router (semantic entropy)
confidence-mf      se            mf
confidence-knn     se            knn
confidence-mlp     se            mlp
=================  ============  ==========  ==========================================

``routerlab evaluate --system NAME --benchmark B`` runs one; ``System.run`` is the API.
The paper's published numbers live in one place, ``reports/paper_numbers.toml``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import paths
from harness.errors import ConfigError

if TYPE_CHECKING:  # kept out of import time: the CLI lists the systems in its --help
    from harness.records import Benchmark
    from harness.systems import RoutedScores, SystemSpec

#: The paper's name for the systems trained on each label source (its rows are label
#: source × router); "Outcomes" trains on the evaluated pair's own outcomes; "Sampled
#: accuracy" is the control for SE labels (graded samples of the same SE label file).
FAMILY_OF_LABELS: dict[str, str] = {
    "se": "Confidence", "accuracy": "TO-Router", "arena": "RouteLLM", "outcomes": "Outcomes",
    "sampled_accuracy": "Sampled accuracy",
}


@dataclass(frozen=True)
class System:
    """A routing system: a label source and a router, each with its parameters.

    Attributes:
        name: the system's name (``routerlab evaluate --system NAME``).
        family: "Random", "TO-Router", "RouteLLM" or "Confidence" (the paper's rows).
        router: router registry name.
        labels: label-source registry name; None for systems that learn nothing (random).
        router_params / label_params: keyword arguments of the router / label source.
        description: one line for listings.
    """

    name: str
    family: str
    router: str
    labels: str | None
    router_params: dict[str, Any] = field(default_factory=dict)
    label_params: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def params(self) -> dict[str, Any]:
        """Flat parameters to log with a run."""
        out: dict[str, Any] = {"system": self.name, "router": self.router,
                               "labels": self.labels or "none"}
        out.update({f"router.{k}": v for k, v in self.router_params.items()})
        out.update({f"labels.{k}": v for k, v in self.label_params.items()})
        return out

    def spec(self, seed: int = 0, **overrides: Any) -> SystemSpec:
        """This system as :func:`harness.systems.score_system` takes it; ``overrides`` set
        other fields (``router_params`` / ``label_params`` merge over the system's own)."""
        from harness.systems import SystemSpec

        r_params = {**self.router_params, **(overrides.pop("router_params", None) or {})}
        l_params = {**self.label_params, **(overrides.pop("label_params", None) or {})}
        return SystemSpec(router=self.router, router_params=r_params, labels=self.labels,
                          label_params=l_params, seed=seed, **overrides)

    def run(
        self,
        benchmark: Benchmark,
        *,
        seed: int = 0,
        data_dir: Path | None = None,
        router_params: dict[str, Any] | None = None,
        label_params: dict[str, Any] | None = None,
        show_progress: bool = True,
    ) -> RoutedScores:
        """Scores of this system on ``benchmark`` (:func:`harness.systems.score_system`);
        ``router_params`` / ``label_params`` override the system's defaults."""
        from harness.systems import score_system

        spec = self.spec(seed, router_params=router_params, label_params=label_params)
        return score_system(spec, benchmark, data_dir=data_dir, show_progress=show_progress)


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("random", "Random", "random", None,
               description="uniform random scores"),
        System("to-router-knn", "TO-Router", "knn", "accuracy", {"k": 1},
               description="accuracy labels, nearest training query's label"),
        System("to-router-mlp", "TO-Router", "mlp", "accuracy",
               description="accuracy labels, 2-layer MLP"),
        System("routellm-sw", "RouteLLM", "sw_ranking", "arena", {"gamma": 10.0},
               description="arena votes, similarity-weighted Bradley-Terry"),
        System("routellm-mf", "RouteLLM", "mf", "arena",
               description="arena votes, matrix factorisation"),
        System("confidence-sw", "Confidence", "sw_ranking", "se", {"gamma": 10.0},
               description="semantic-entropy labels, similarity-weighted Bradley-Terry"),
        System("confidence-mf", "Confidence", "mf", "se",
               description="semantic-entropy labels, matrix factorisation"),
        System("confidence-knn", "Confidence", "knn", "se", {"k": 1},
               description="semantic-entropy labels, nearest training query's label"),
        System("confidence-mlp", "Confidence", "mlp", "se",
               description="semantic-entropy labels, 2-layer MLP"),
    )
}


def get_system(name: str) -> System:
    """The system called ``name``; a ConfigError with the known names otherwise."""
    if name in SYSTEMS:
        return SYSTEMS[name]
    msg = f"unknown system {name!r}; known: {', '.join(SYSTEMS)}"
    close = difflib.get_close_matches(name, list(SYSTEMS), n=1)
    if close:
        msg += f". Did you mean {close[0]!r}?"
    raise ConfigError(msg)


def system_scores(
    name: str, benchmark: Benchmark, *, seed: int = 0, data_dir: Path | None = None
) -> RoutedScores:
    """Scores of the named system on ``benchmark``, with the params an evaluation logs."""
    system = get_system(name)
    routed = system.run(benchmark, seed=seed, data_dir=data_dir or paths.data_dir())
    routed.params = {
        "router": system.router,
        "router_params": dict(system.router_params),
        "label_source": system.labels or "none",
        "label_params": dict(system.label_params),
        "family": system.family,
    }
    return routed
