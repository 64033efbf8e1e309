"""The ``routerlab`` command line.

The top layer: it may import every package (``harness``, ``routers``, ``baselines``,
``studies``, ``reports``, ...); nothing imports it. Each subcommand lives in its own module
under ``routerlab/cli/`` exposing
``register(subparsers)``, which adds an ``argparse`` sub-parser and sets
``func=<callable(args) -> int>``. Modules are imported only to build the parser; they must
keep heavy imports (torch, mlflow, sentence-transformers) inside the functions they run.
"""

from __future__ import annotations

import argparse
import logging
import sys

from harness.errors import RouterlabError
from routerlab.cli import (
    benchmark,
    calibrate,
    compare,
    data,
    evaluate,
    export,
    labels,
    models,
    plugins,
    report,
    run,
    tune,
)

# Subcommand modules, in help order.
SUBCOMMANDS = (
    data,  # routerlab data fetch|check
    evaluate,  # routerlab evaluate
    compare,  # routerlab compare RUN_A RUN_B
    calibrate,  # routerlab calibrate
    export,  # routerlab export
    labels,  # routerlab labels se|accuracy|arena
    models,  # routerlab models install|serve
    benchmark,  # routerlab benchmark build-local-gsm8k
    run,  # routerlab run STUDY
    tune,  # routerlab tune
    report,  # routerlab report
    plugins,  # routerlab plugins (list registries)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="routerlab", description="Benchmark harness for LLM routers."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except RouterlabError as exc:
        print(f"routerlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("routerlab: interrupted; finished work is kept and a rerun resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
