"""routerlab's spine: registry, records, data, benchmarks, metrics, evaluation, tracking, CLI."""

__version__ = "0.1.0"
