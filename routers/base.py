"""The router interface: scikit-learn style estimators that predict P(strong model wins | query).

A router knows nothing about benchmarks, thresholds or MLflow. It is fitted on query
embeddings and preference targets and scores new query embeddings:

* ``fit(X, y)``: ``X`` float array ``(n, d)`` of query embeddings (L2-normalised),
  ``y`` float array ``(n,)`` with 1.0 = strong model won, 0.0 = weak model won,
  0.5 = tie. How ties are used is each router's ``ties`` keyword ("both": a tie counts as
  half a win for each side, as RouteLLM's Bradley–Terry does; "drop": ties are removed).
* ``score(X)``: float array ``(n,)`` in ``[0, 1]``; higher means "send to the strong model".

Every hyper-parameter is an explicit keyword argument of ``__init__`` stored unchanged under
the same attribute name, so ``get_params``/``set_params``/``clone`` follow (scikit-learn's
rule) and map directly onto MLflow params and an Optuna search space (``search_space``).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from harness.params import KeywordParams, check_keyword_init

# The search-space vocabulary lives in the library; re-exported here for plugin authors who
# import it next to ``Router``.
from harness.search_space import Choice, FloatRange, IntRange, ParamSpec

__all__ = [
    "Choice",
    "FloatRange",
    "IntRange",
    "ParamSpec",
    "Router",
    "validate_router_class",
]


class Router(KeywordParams):
    """Base class for routers. Subclasses define ``__init__`` keywords, ``fit`` and ``score``.

    Class attributes:
        search_space: tunable keyword → range, read by ``routerlab tune``.
        needs_embeddings: False for routers that ignore the query (random); the runner
            then skips embedding.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {}
    needs_embeddings: ClassVar[bool] = True

    # -- scikit-learn style parameter handling (param_names/get_params from the mixin) --
    def set_params(self, **params: Any) -> Router:
        valid = set(self.param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no hyper-parameter {key!r}; valid: {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def clone(self) -> Router:
        """An unfitted copy with the same hyper-parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- the estimator interface --------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> Router:
        raise NotImplementedError

    def score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def validate_router_class(name: str, cls: object) -> None:
    """Registry hook: fail at registration when a class breaks the router interface."""
    if not (inspect.isclass(cls) and issubclass(cls, Router)):
        raise TypeError(f"{cls!r} is not a subclass of routers.base.Router")
    for method in ("fit", "score"):
        if getattr(cls, method) is getattr(Router, method):
            raise TypeError(f"{cls.__name__} does not implement {method}()")
    check_keyword_init(cls)
    params = cls.param_names()
    unknown = set(cls.search_space) - set(params)
    if unknown:
        raise TypeError(
            f"{cls.__name__}.search_space names {sorted(unknown)}, which are not __init__ keywords"
        )
    try:
        instance = cls()
    except Exception as exc:
        raise TypeError(f"{cls.__name__}() cannot be built with its defaults: {exc}") from exc
    for p in params:
        if not hasattr(instance, p):
            raise TypeError(
                f"{cls.__name__} must store keyword {p!r} as attribute self.{p} (scikit-learn rule)"
            )
