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
``paper_cpt`` holds the paper's Table 1 CPT(50%) / CPT(80%) (GPT-4 vs Mixtral) for reports.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.records import Benchmark


@dataclass(frozen=True)
class System:
    """A routing system: a label source and a router, each with its parameters.

    Attributes:
        name: the system's name (``routerlab evaluate --system NAME``).
        family: "Random", "TO-Router", "RouteLLM" or "Confidence" (the paper's rows).
        router: router registry name.
        labels: label-source registry name; None for systems that learn nothing (random).
        router_params / label_params: keyword arguments of the router / label source.
        paper_cpt: benchmark → (CPT 50 %, CPT 80 %) from the paper's Table 1.
        description: one line for listings.
    """

    name: str
    family: str
    router: str
    labels: str | None
    router_params: dict[str, Any] = field(default_factory=dict)
    label_params: dict[str, Any] = field(default_factory=dict)
    paper_cpt: dict[str, tuple[float, float]] = field(default_factory=dict)
    description: str = ""

    def params(self) -> dict[str, Any]:
        """Flat parameters to log with a run."""
        out: dict[str, Any] = {"system": self.name, "router": self.router,
                               "labels": self.labels or "none"}
        out.update({f"router.{k}": v for k, v in self.router_params.items()})
        out.update({f"labels.{k}": v for k, v in self.label_params.items()})
        return out

    def run(
        self,
        benchmark: Benchmark,
        *,
        seed: int = 0,
        data_dir: Path | None = None,
        router_params: dict[str, Any] | None = None,
        label_params: dict[str, Any] | None = None,
        **pipeline_kwargs: Any,
    ) -> Any:
        """Scores of this system on ``benchmark`` (a :class:`harness.pipeline.ScoredBenchmark`).

        ``router_params`` / ``label_params`` override the system's defaults;
        ``pipeline_kwargs`` go to :func:`harness.pipeline.router_scores`
        (``embedding_model``, ``decontaminate``, ``n_folds``, ``show_progress``).
        """
        from harness.pipeline import router_scores

        r_params = {**self.router_params, **(router_params or {})}
        l_params = {**self.label_params, **(label_params or {})}
        return router_scores(
            self.router, r_params, self.labels, l_params, benchmark, seed=seed,
            data_dir=data_dir, **pipeline_kwargs,
        )


    # the name harness.evaluation.system_scores calls
    router_scores = run


def _cpt(mt: tuple[float, float], gsm: tuple[float, float], mmlu: tuple[float, float]):
    return {"mt_bench": mt, "gsm8k": gsm, "mmlu": mmlu}


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("random", "Random", "random", None,
               paper_cpt=_cpt((51.29, 78.55), (48.79, 80.16), (50.04, 79.32)),
               description="uniform random scores"),
        System("to-router-knn", "TO-Router", "knn", "accuracy", {"k": 1},
               paper_cpt=_cpt((59.72, 90.39), (47.93, 79.03), (43.73, 77.74)),
               description="accuracy labels, nearest training query's label"),
        System("to-router-mlp", "TO-Router", "mlp", "accuracy",
               paper_cpt=_cpt((49.15, 86.67), (51.03, 77.77), (44.01, 77.43)),
               description="accuracy labels, 2-layer MLP"),
        System("routellm-sw", "RouteLLM", "sw_ranking", "arena", {"gamma": 10.0},
               paper_cpt=_cpt((56.08, 78.37), (46.03, 79.58), (47.41, 74.23)),
               description="arena votes, similarity-weighted Bradley-Terry"),
        System("routellm-mf", "RouteLLM", "mf", "arena",
               paper_cpt=_cpt((55.59, 84.12), (49.07, 80.09), (58.55, 83.68)),
               description="arena votes, matrix factorisation"),
        System("confidence-sw", "Confidence", "sw_ranking", "se", {"gamma": 10.0},
               paper_cpt=_cpt((27.31, 55.61), (48.03, 80.41), (37.96, 73.85)),
               description="semantic-entropy labels, similarity-weighted Bradley-Terry"),
        System("confidence-mf", "Confidence", "mf", "se",
               paper_cpt=_cpt((42.94, 63.53), (41.89, 75.34), (50.06, 78.38)),
               description="semantic-entropy labels, matrix factorisation"),
        System("confidence-knn", "Confidence", "knn", "se", {"k": 1},
               paper_cpt=_cpt((60.84, 81.50), (44.08, 76.32), (42.70, 75.28)),
               description="semantic-entropy labels, nearest training query's label"),
        System("confidence-mlp", "Confidence", "mlp", "se",
               paper_cpt=_cpt((35.54, 74.92), (50.04, 79.79), (57.07, 83.27)),
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
