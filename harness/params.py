"""Keyword hyper-parameters, scikit-learn style, shared by routers, label sources and judges.

Every hyper-parameter is an explicit keyword argument of ``__init__`` with a default, stored
unchanged under the same attribute name. ``get_params`` then gives exactly what is needed to
rebuild the object, log it to MLflow, or span an Optuna search space.
"""

from __future__ import annotations

import inspect
from typing import Any


class KeywordParams:
    """Mixin: ``param_names()`` and ``get_params()`` read off ``__init__``'s signature."""

    @classmethod
    def param_names(cls) -> list[str]:
        return [
            p.name for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}


def check_keyword_init(cls: type) -> None:
    """Raise ``TypeError`` unless ``cls.__init__`` takes only keywords that have defaults."""
    for p in inspect.signature(cls.__init__).parameters.values():  # type: ignore[misc]
        if p.name == "self":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
        if p.default is inspect.Parameter.empty:
            raise TypeError(
                f"{cls.__name__}.__init__ keyword {p.name!r} needs a default (scikit-learn style)"
            )
