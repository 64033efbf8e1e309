"""routerlab's command line, entry points and Python API: the layer on top of every other
package.

The library is :mod:`harness`; ``routerlab`` wires the command line (:mod:`routerlab.cli`)
onto it and onto ``routers``, ``baselines``, ``studies`` and ``reports``, and re-exports the
notebook API of :mod:`routerlab.api` (``routerlab.evaluate``, ``routerlab.train_router``,
``routerlab.calibrate_threshold``, ``routerlab.load_runs``), imported on first use so the
command line starts fast.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Calibration",
    "EvaluationResult",
    "TrainedRouter",
    "calibrate_threshold",
    "evaluate",
    "load_runs",
    "train_router",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from routerlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'routerlab' has no attribute {name!r}")
