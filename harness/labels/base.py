"""The label-source interface: something that turns training prompts into preference labels.

A label source is a class whose hyper-parameters are explicit keyword arguments (stored
unchanged, like a router's), with one method::

    load(data_dir: Path) -> LabelSet

returning records in the paper's schema (see :mod:`harness.records`). Sources that call
models do so through the cached LLM layer, so ``load`` can be interrupted and resumed.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

from harness.records import LabelSet
from routers.base import ParamSpec


class LabelSource:
    """Base class for label sources (accuracy, arena, se, and plugins)."""

    search_space: ClassVar[dict[str, ParamSpec]] = {}

    @classmethod
    def param_names(cls) -> list[str]:
        return [
            p.name
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self"
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def load(self, data_dir: Path) -> LabelSet:
        raise NotImplementedError


def validate_label_source_class(name: str, cls: object) -> None:
    """Registry hook: fail at registration when a class breaks the label-source interface."""
    if not (inspect.isclass(cls) and issubclass(cls, LabelSource)):
        raise TypeError(f"{cls!r} is not a subclass of harness.labels.base.LabelSource")
    if cls.load is LabelSource.load:
        raise TypeError(f"{cls.__name__} does not implement load(data_dir)")
    sig = inspect.signature(cls.__init__)
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
        if p.default is inspect.Parameter.empty:
            raise TypeError(f"{cls.__name__}.__init__ keyword {p.name!r} needs a default")
