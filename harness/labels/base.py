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
from typing import ClassVar

from harness.params import KeywordParams, check_keyword_init
from harness.records import LabelSet
from harness.search_space import ParamSpec


class LabelSource(KeywordParams):
    """Base class for label sources (accuracy, arena, se, and plugins)."""

    search_space: ClassVar[dict[str, ParamSpec]] = {}

    def load(self, data_dir: Path) -> LabelSet:
        raise NotImplementedError


def validate_label_source_class(name: str, cls: object) -> None:
    """Registry hook: fail at registration when a class breaks the label-source interface."""
    if not (inspect.isclass(cls) and issubclass(cls, LabelSource)):
        raise TypeError(f"{cls!r} is not a subclass of harness.labels.base.LabelSource")
    if cls.load is LabelSource.load:
        raise TypeError(f"{cls.__name__} does not implement load(data_dir)")
    check_keyword_init(cls)
