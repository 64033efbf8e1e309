"""A router fitted on every label of a label source, ready to score raw prompts.

:func:`train_router` is what ``routerlab calibrate`` and ``routerlab export`` run: load the
labels, embed their prompts, fit. Unlike an evaluation there is no benchmark and nothing is
held out: the deployed router learns from all the labels. :class:`TrainedRouter` keeps what
a shipped router must say about itself: the embedding model, the resolved hyper-parameters,
the label source and digests of its labels and data files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import paths
from harness.data import data_fingerprint
from harness.embeddings import DEFAULT_MODEL, embed
from harness.errors import ConfigError, DataError
from harness.pipeline import build_router, load_labels, resolve_params
from harness.prompt_features import (
    EMBEDDING,
    StatisticsScaler,
    router_input,
    text_statistics,
    uses_statistics,
)
from routers.base import Router


@dataclass
class TrainedRouter:
    """A fitted router with its provenance; :meth:`route` sends prompts strong or weak.

    Attributes:
        router: the fitted router (scikit-learn style: ``score(X)`` = P(strong wins)).
        router_name / router_params: registry name and every resolved hyper-parameter.
        label_source / label_params: where the training labels came from.
        embedding_model: the sentence-transformers model that embeds prompts.
        labels_sha256: digest of the training prompts (hashed) and their targets.
        data_sha256: fingerprint of the label source's data files (when it reports them).
        n_train: training records.
        threshold: prompts scoring ``>= threshold`` go strong (None until calibrated).
        features: what the router reads (:mod:`harness.prompt_features`); with
            ``embedding+stats``, ``statistics`` standardises the prompts' text statistics as
            the training prompts' were.
    """

    router: Router
    router_name: str
    router_params: dict[str, Any]
    label_source: str
    label_params: dict[str, Any]
    embedding_model: str
    labels_sha256: str
    data_sha256: str
    n_train: int
    threshold: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    features: str = EMBEDDING
    statistics: StatisticsScaler | None = None

    def scores(self, prompts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """P(strong wins) per prompt: embed, then the router's score."""
        if len(prompts) == 0:
            return np.zeros(0)
        X = embed(list(prompts), self.embedding_model, show_progress=show_progress)
        return np.asarray(
            self.router.score(router_input(X, list(prompts), self.statistics)), dtype=float
        )

    def route(self, prompts: Sequence[str]) -> pd.DataFrame:
        """One row per prompt: ``route`` (``strong``/``weak``) and ``score``."""
        if self.threshold is None:
            raise ConfigError(
                "the router has no threshold yet: calibrate it (--share or --threshold)"
            )
        s = self.scores(prompts)
        return pd.DataFrame({"route": np.where(s >= self.threshold, "strong", "weak"), "score": s})

    def describe(self) -> dict[str, Any]:
        """Flat provenance, for MLflow params and the model's metadata."""
        return {
            "router": self.router_name,
            "router_params": self.router_params,
            "label_source": self.label_source,
            "label_params": self.label_params,
            "embedding_model": self.embedding_model,
            "labels_sha256": self.labels_sha256,
            "data_sha256": self.data_sha256,
            "n_train": self.n_train,
            "threshold": self.threshold,
            "features": self.features,
            **({"statistics": self.statistics.to_dict()} if self.statistics else {}),
            **self.meta,
        }


def labels_digest(prompts: Sequence[str], targets: np.ndarray) -> str:
    """sha256 over the training prompts' hashes and their targets (order-independent)."""
    rows = sorted(
        f"{hashlib.sha256(p.encode()).hexdigest()}:{t:g}"
        for p, t in zip(prompts, targets.tolist(), strict=True)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def train_router(
    router: str,
    labels: str,
    *,
    router_params: dict[str, Any] | None = None,
    label_params: dict[str, Any] | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
    embedding_model: str = DEFAULT_MODEL,
    show_progress: bool = True,
    features: str = EMBEDDING,
) -> TrainedRouter:
    """Fit ``router`` on every label of ``labels`` (a label-source name), reading
    ``features`` of each prompt (:mod:`harness.prompt_features`)."""
    router_params = dict(router_params or {})
    label_params = dict(label_params or {})
    try:
        resolved = resolve_params(router, router_params, labels, label_params)
    except TypeError as exc:
        raise ConfigError(f"router {router!r} / labels {labels!r}: {exc}") from None
    model = build_router(router, router_params, seed)
    if not model.needs_embeddings:
        raise ConfigError(f"router {router!r} learns nothing from prompts; nothing to ship")
    label_set = load_labels(labels, label_params, data_dir or paths.data_dir())
    records, y = label_set.targets()
    if len(records) == 0:
        raise DataError(f"label source {labels!r} gave no strong-vs-weak comparison to train on")
    prompts = records["prompt"].astype(str).tolist()
    X = embed(prompts, embedding_model, show_progress=show_progress)
    statistics = None
    if uses_statistics(features):
        statistics = StatisticsScaler.fit(text_statistics(prompts))
        X = router_input(X, prompts, statistics)
    try:
        model.fit(X, y)
    except ValueError as exc:  # a bad hyper-parameter value, found when fitting
        raise ConfigError(f"router {router!r} with {router_params}: {exc}") from None
    sources = {str(k): str(v) for k, v in label_set.meta.items()
               if isinstance(v, str) and len(v) == 64 and k.endswith("sha256")}
    return TrainedRouter(
        router=model,
        router_name=router,
        router_params=model.get_params(),
        label_source=labels,
        label_params=resolved.get("labels", label_params),
        embedding_model=embedding_model,
        labels_sha256=labels_digest(prompts, y),
        data_sha256=data_fingerprint(sources) if sources else "",
        n_train=len(records),
        meta={"seed": seed},
        features=features,
        statistics=statistics,
    )
