"""Keyword hyper-parameters, scikit-learn style, shared by routers, label sources and judges.

Every hyper-parameter is an explicit keyword argument of ``__init__`` with a default, stored
unchanged under the same attribute name. ``get_params`` then gives exactly what is needed to
rebuild the object, log it to MLflow, or span an Optuna search space.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from harness.errors import ConfigError
from harness.search_space import Choice, FloatRange, IntRange, ParamSpec


class KeywordParams:
    """Mixin: ``param_names()`` and ``get_params()`` read off ``__init__``'s signature.

    ``search_space`` (tunable keywords) and ``param_rules`` (untuned keywords that need a
    bound) declare what values are valid; :meth:`check_params` checks against them.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {}
    param_rules: ClassVar[dict[str, ParamSpec]] = {}

    @classmethod
    def param_names(cls) -> list[str]:
        return [
            p.name for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    @classmethod
    def check_params(cls, params: Mapping[str, Any], what: str) -> dict[str, Any]:
        """``params`` checked against the declared rules, as the values that will run.

        A whole-number float (``2.0``) becomes ``2``; anything else that does not fit its
        rule (``k=2.5``, ``k=0``, ``tau="high"``) or names no keyword raises
        :class:`ConfigError` with one line: ``{what}: k=2.5 is not allowed; want ...``.
        """
        return check_params(cls, params, what)


def _describe(spec: ParamSpec) -> str:
    if isinstance(spec, Choice):
        return "one of " + ", ".join(repr(c) for c in spec.choices)
    kind = "a whole number" if isinstance(spec, IntRange) else "a number"
    if spec.min is not None and spec.max is not None:
        return f"{kind} from {spec.min:g} to {spec.max:g}"
    if spec.min is not None:
        return f"{kind} >= {spec.min:g}"
    if spec.max is not None:
        return f"{kind} <= {spec.max:g}"
    return kind


def _rule_from_default(default: Any) -> ParamSpec | type | None:
    """The type a keyword's default implies when no rule is declared (None: anything)."""
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return IntRange(0, 0)
    if isinstance(default, float):
        return FloatRange(0.0, 0.0)
    if isinstance(default, str):
        return str
    return None


def check_value(name: str, value: Any, rule: ParamSpec | type | None, what: str) -> Any:
    """``value`` as ``rule`` wants it, or a ConfigError naming ``name``, ``value`` and ``rule``."""
    if rule is None:
        return value
    if isinstance(rule, type):
        if isinstance(value, rule):
            return value
        want = "true or false" if rule is bool else "text"
        raise ConfigError(f"{what}: {name}={value!r} is not allowed; want {want}")
    if isinstance(rule, Choice):
        if value in rule.choices:
            return value
        close = difflib.get_close_matches(str(value), [str(c) for c in rule.choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{what}: {name}={value!r} is not allowed; want {_describe(rule)}{hint}")
    number: float | int | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        number = value
    if isinstance(rule, IntRange) and number is not None:
        if float(number).is_integer():
            number = int(number)
        else:
            number = None
    elif isinstance(rule, FloatRange) and number is not None:
        number = float(number)
    if (
        number is None
        or (rule.min is not None and number < rule.min)
        or (rule.max is not None and number > rule.max)
    ):
        raise ConfigError(f"{what}: {name}={value!r} is not allowed; want {_describe(rule)}")
    return number


def check_params(cls: type, params: Mapping[str, Any], what: str) -> dict[str, Any]:
    """See :meth:`KeywordParams.check_params`; works on any class with keyword ``__init__``."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    defaults = {n: p.default for n, p in signature.parameters.items() if n != "self"}
    rules: dict[str, ParamSpec] = {
        **getattr(cls, "param_rules", {}),
        **getattr(cls, "search_space", {}),
    }
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in defaults:
            close = difflib.get_close_matches(str(name), list(defaults), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{what}: no parameter {name!r}{hint} (known: {', '.join(defaults) or 'none'})"
            )
        rule = rules.get(name) or _rule_from_default(defaults[name])
        if value is None and defaults[name] is None:
            out[name] = value
            continue
        out[name] = check_value(name, value, rule, what)
    return out


def coerce_list_params(cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with list-valued keywords (a tuple or list default, or annotation) as
    tuples: a string from the command line (``strong_models=gpt-4-1106-preview`` or
    ``a,b``) is split at commas, never into characters; a list becomes a tuple."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    out = dict(params)
    for name, value in params.items():
        param = signature.parameters.get(name)
        if param is None:
            continue
        annotation = str(param.annotation)
        listy = isinstance(param.default, (tuple, list)) or any(
            f"{kind}[" in annotation for kind in ("tuple", "list", "Sequence")
        )
        if not listy:
            continue
        if isinstance(value, str):
            out[name] = tuple(part.strip() for part in value.split(",") if part.strip())
        elif isinstance(value, list):
            out[name] = tuple(value)
    return out


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
