"""Benchmarks: prompts with the weak and strong model's outcome on each.

``load_benchmark(name_or_path)`` takes a registry name (:data:`harness.plugins.BENCHMARKS`:
``gsm8k``, ``mmlu``, ``mt_bench`` and plugins) or the path of a one-file custom benchmark
(:mod:`harness.benchmarks.custom`).
"""

from __future__ import annotations

from pathlib import Path

from harness import paths
from harness.benchmarks.custom import SUFFIXES, load_custom_benchmark
from harness.errors import ConfigError
from harness.records import Benchmark
from harness.registry import RegistryError

#: What ``--benchmark all`` means: the paper's three benchmarks.
PAPER_BENCHMARKS: tuple[str, ...] = ("mt_bench", "gsm8k", "mmlu")


def load_benchmark(
    name_or_path: str | Path,
    data_dir: Path | None = None,
    *,
    weak_model: str | None = None,
    strong_model: str | None = None,
    weak_column: str | None = None,
    strong_column: str | None = None,
    drop_missing: bool = False,
) -> Benchmark:
    """A registered benchmark by name, or a custom benchmark file by path.

    Args:
        name_or_path: ``gsm8k``/``mmlu``/``mt_bench``/a plugin name, or a ``.csv``,
            ``.jsonl``, ``.json`` or ``.parquet`` file.
        data_dir: the data directory for registered benchmarks (default
            :func:`harness.paths.data_dir`).
        weak_model / strong_model: model names for a custom file (ignored for names).
        weak_column / strong_column / drop_missing: a custom file's outcome columns and
            whether rows missing either are dropped (counted); see ``load_custom_benchmark``.

    Raises:
        DataError: a data file is missing, corrupt or malformed.
        ConfigError: neither a known name nor a benchmark file.
    """
    from harness.plugins import BENCHMARKS

    text = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BENCHMARKS:
        loader = BENCHMARKS.get(name_or_path)
        return loader(Path(data_dir) if data_dir is not None else paths.data_dir())
    path = Path(text).expanduser()
    if path.suffix.lower() in SUFFIXES or path.exists():
        return load_custom_benchmark(
            path, weak_model=weak_model, strong_model=strong_model, weak_column=weak_column,
            strong_column=strong_column, drop_missing=drop_missing,
        )
    try:
        BENCHMARKS.get(text)
    except RegistryError as exc:
        raise ConfigError(
            f"{exc}; or give the path of a benchmark file ({', '.join(SUFFIXES)})"
        ) from None
    raise ConfigError(f"cannot load benchmark {text!r}")  # pragma: no cover


__all__ = ["PAPER_BENCHMARKS", "Benchmark", "load_benchmark", "load_custom_benchmark"]
