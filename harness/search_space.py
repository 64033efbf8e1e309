"""The search-space vocabulary of every plugin kind: what ``routerlab tune`` may vary.

Routers, label sources and judges declare ``search_space: dict[str, ParamSpec]`` mapping an
``__init__`` keyword to one of these ranges; :mod:`studies.tuning` turns each into an Optuna
suggestion. ``routers.base`` re-exports them for plugin authors.

The same declarations say which values are valid at all (:func:`harness.params.check_params`
checks every given value before any data loads): a ``FloatRange``/``IntRange`` value must be
of its type and within ``min``..``max`` (the hard bounds; ``low``..``high`` is only where
tuning searches, so ``k = 200`` is a valid kNN ``k`` though tuning stops at 100), a
``Choice`` value one of its choices. Keywords that are not tuned but need a bound are declared
in the class's ``param_rules`` with the same types.
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
    min: float | None = None  # hard bounds of a valid value (None: unbounded)
    max: float | None = None


@dataclass(frozen=True)
class IntRange:
    """A tunable integer hyper-parameter range (inclusive), optionally on a log scale."""

    low: int
    high: int
    log: bool = False
    min: int | None = None  # hard bounds of a valid value (None: unbounded)
    max: int | None = None


@dataclass(frozen=True)
class Choice:
    """A tunable categorical hyper-parameter."""

    choices: tuple[Any, ...]


ParamSpec = FloatRange | IntRange | Choice


def at_least(minimum: float, maximum: float | None = None) -> FloatRange:
    """A rule for an untuned float keyword: valid within ``minimum``..``maximum``."""
    high = maximum if maximum is not None else minimum
    return FloatRange(minimum, high, min=minimum, max=maximum)


def whole_number(minimum: int, maximum: int | None = None) -> IntRange:
    """A rule for an untuned integer keyword: valid within ``minimum``..``maximum``."""
    high = maximum if maximum is not None else minimum
    return IntRange(minimum, high, min=minimum, max=maximum)
