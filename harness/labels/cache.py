"""The one label cache: a label source loaded once per (source, parameters, data) in a process.

Every path that trains a router (``routerlab evaluate``, a study's grid, tuning trials,
nested tuning, ``routerlab export``) loads labels through :func:`load_label_set`, so a
study or a tuning run reads and parses each label set once. The key holds the data
directory and, for each parameter naming an existing file, its size and modification time:
a label file rewritten in place (a resumed ``routerlab labels se`` run) is read again.
Callers get a copy of the cached set's ``meta`` and must treat ``records`` as read-only
(every transformation in the harness returns a new frame).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.params import coerce_list_params
from harness.records import LabelSet

MAX_ENTRIES = 16  # label sets are a few MB; a grid uses a handful
_cache: OrderedDict[tuple[Any, ...], LabelSet] = OrderedDict()
_lock = threading.Lock()


def _file_stamp(value: Any) -> tuple[Any, ...] | None:
    if isinstance(value, (list, tuple)):  # e.g. outcomes' benchmarks: names or file paths
        return tuple(_file_stamp(v) for v in value)
    if not isinstance(value, (str, Path)) or not str(value):
        return None
    try:
        path = Path(value)
        if path.is_file():
            stat = path.stat()
            return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except (OSError, ValueError):
        return None
    return None


def cache_key(source: str, params: Mapping[str, Any], data_dir: Path) -> tuple[Any, ...]:
    items = tuple(sorted((str(k), repr(v), _file_stamp(v)) for k, v in params.items()))
    return (source, items, str(Path(data_dir).resolve()))


def load_label_set(source: str, params: Mapping[str, Any] | None, data_dir: Path) -> LabelSet:
    """The label set of registered source ``source`` with ``params`` (cached, see module)."""
    from harness.plugins import LABEL_SOURCES
    from harness.registry import RegistryError

    params = dict(params or {})
    key = cache_key(source, params, data_dir)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return replace(hit, meta=dict(hit.meta))
    try:
        cls = LABEL_SOURCES.get(source)
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    try:
        instance = cls(**coerce_list_params(cls, params))
    except TypeError as exc:
        raise ConfigError(f"label source {source!r}: {exc}") from None
    loaded: LabelSet = instance.load(data_dir)
    with _lock:
        _cache[key] = loaded
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return replace(loaded, meta=dict(loaded.meta))


def clear() -> None:
    """Forget every cached label set (tests that rewrite label files in place use it)."""
    with _lock:
        _cache.clear()
