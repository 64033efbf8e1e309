"""The search-space vocabulary of every plugin kind: what ``routerlab tune`` may vary.

Routers, label sources and judges declare ``search_space: dict[str, ParamSpec]`` mapping an
``__init__`` keyword to one of these ranges; :mod:`studies.tuning` turns each into an Optuna
suggestion. ``routers.base`` re-exports them for plugin authors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FloatRange:
    """A tunable float hyper-parameter range (inclusive), optionally on a log scale."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    """A tunable integer hyper-parameter range (inclusive), optionally on a log scale."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """A tunable categorical hyper-parameter."""

    choices: tuple[Any, ...]


ParamSpec = FloatRange | IntRange | Choice
