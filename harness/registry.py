"""Named registries for routers, label sources, benchmarks and judges.

A registry maps a name to either an object or a lazy ``"module:attr"`` target, so that
listing what exists imports nothing heavy. Third-party packages add entries through an
entry-point group (``routerlab.routers`` and friends); those are loaded only when a name is
not found among the built-ins, or when the full list is asked for.

An entry is validated when it is registered (or, for lazy targets, when first loaded) with
the registry's ``validate`` hook, so a plugin that breaks the interface fails loudly at
registration rather than in the middle of a run (pluggy's rule).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """Raised for an unknown name or an entry that breaks the registry's interface."""


class Registry(Generic[T]):
    """A name → entry mapping with lazy targets, entry-point plugins and validation.

    Args:
        kind: what the entries are, for error messages ("router", "label source", ...).
        entry_point_group: the ``importlib.metadata`` group third-party packages use.
        validate: called with each entry when it is loaded; raises ``TypeError`` (or any
            exception) with a message saying what is wrong.
    """

    def __init__(
        self,
        kind: str,
        entry_point_group: str,
        validate: Callable[[str, T], None] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._validate = validate
        self._loaded: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points_scanned = False

    # -- registration -------------------------------------------------------------------
    def register(self, name: str, obj: T | None = None, *, target: str | None = None):  # type: ignore[no-untyped-def]
        """Register ``obj`` (or a lazy ``"module:attr"`` target) under ``name``.

        Used directly, ``registry.register("knn", KNNRouter)``, as a decorator,
        ``@registry.register("knn")``, or lazily, ``registry.register("knn",
        target="routers.knn:KNNRouter")``.
        """
        if target is not None:
            if obj is not None:
                raise ValueError("give either an object or a lazy target, not both")
            self._lazy[name] = target
            self._loaded.pop(name, None)
            return None
        if obj is None:

            def decorator(o: T) -> T:
                self._add(name, o)
                return o

            return decorator
        self._add(name, obj)
        return obj

    def _add(self, name: str, obj: T) -> None:
        if self._validate is not None:
            try:
                self._validate(name, obj)
            except Exception as exc:  # re-raised with the registry's context
                raise RegistryError(
                    f"cannot register {self.kind} {name!r}: {exc}"
                ) from exc
        self._loaded[name] = obj
        self._lazy.pop(name, None)

    # -- lookup ---------------------------------------------------------------------------
    def _scan_entry_points(self) -> None:
        if self._entry_points_scanned:
            return
        self._entry_points_scanned = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._loaded and ep.name not in self._lazy:
                self._lazy[ep.name] = ep.value

    def get(self, name: str) -> T:
        """Return the entry called ``name``, loading it (and plugins) if needed."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._lazy:
            self._scan_entry_points()
        if name in self._lazy:
            target = self._lazy[name]
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
                obj: T = getattr(module, attr) if attr else module  # type: ignore[assignment]
            except (ImportError, AttributeError) as exc:
                raise RegistryError(
                    f"{self.kind} {name!r} points at {target!r}, which cannot be loaded: {exc}"
                ) from exc
            self._add(name, obj)
            return obj
        raise RegistryError(self._unknown_message(name))

    def _unknown_message(self, name: str) -> str:
        known = self.names()
        msg = f"unknown {self.kind} {name!r}; known: {', '.join(known) or '(none)'}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            msg += f". Did you mean {close[0]!r}?"
        return msg

    def names(self) -> list[str]:
        """All registered names, plugins included, sorted."""
        self._scan_entry_points()
        return sorted(set(self._loaded) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
