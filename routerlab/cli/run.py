"""``routerlab run STUDY``: every combination of a study file, as child MLflow runs, resumable.

Examples::

    routerlab run studies/paper.toml          # the paper's grid (a rerun skips finished cells)
    routerlab run smoke                       # a shipped study by name
    routerlab run studies/paper.toml --list   # print the combinations and their keys
    routerlab run studies/paper.toml --tuned  # with `routerlab tune`'s best parameters
    routerlab run studies/paper.toml --workers 3   # three local worker processes
    routerlab run studies/paper.toml --workers 1   # this process only

By default (``--workers auto``) a study of 40 or more combinations gets one worker process
per CPU core (at most 4): this process and helpers started beside it. Each combination is
computed by one worker with the same seeds, so the results do not depend on the count.

Several ``routerlab run`` of one study (on this machine, or on machines sharing a
PostgreSQL-backed MLflow store via MLFLOW_TRACKING_URI) share its combinations: each is
evaluated once, by the worker that claims it; a worker that dies leaves its combination to
the others (at once on this machine, after --lease-seconds elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a study file (grid of label sources × routers × benchmarks) into MLflow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study", help="a study file (TOML/YAML) or the name of one in studies/")
    p.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")
    p.add_argument("--list", action="store_true", help="list the combinations and exit")
    p.add_argument("--no-judge", action="store_true", help="skip the study's [judge] step")
    p.add_argument(
        "--tuned", action="store_true",
        help="use the best parameters `routerlab tune` wrote ($ROUTERLAB_HOME/tuned) where a "
        "system was tuned on that benchmark; runs go to the study '<name>-tuned'",
    )
    p.add_argument(
        "--workers",
        type=_workers_arg,
        default="auto",
        help="worker processes on this machine, this one included (default auto: one per "
        "CPU core, at most 4, for a study of 40 or more combinations; else 1)",
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        default=60.0,
        help="a claim not renewed for this long is taken over by other workers (default 60)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


#: ``--workers auto`` starts helpers only for a study this large: a helper's start-up
#: (imports, data, embeddings) costs seconds that a small study does not win back.
AUTO_WORKERS_MIN_COMBINATIONS = 40
AUTO_WORKERS_MAX = 4


def _workers_arg(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give a whole number of processes or 'auto'"
        ) from None


def auto_workers(n_combinations: int) -> int:
    """Worker processes for ``--workers auto``: one per CPU core this process may use, at
    most :data:`AUTO_WORKERS_MAX`, for a study of at least
    :data:`AUTO_WORKERS_MIN_COMBINATIONS` combinations; else 1."""
    if n_combinations < AUTO_WORKERS_MIN_COMBINATIONS:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(AUTO_WORKERS_MAX, cores or 1))


def _start_helpers(args: argparse.Namespace, count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` more ``routerlab run`` processes on the same study (no judge, no bar)."""
    package = __name__.rsplit(".", 1)[0]  # the CLI package, wherever it lives
    cmd = [
        sys.executable,
        "-c",
        f"import sys; from {package} import main; sys.exit(main())",
        "run",
        str(args.study),
        "--workers",
        "1",
        "--no-judge",
        "--no-progress",
        "--lease-seconds",
        str(args.lease_seconds),
    ]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.tuned:
        cmd.append("--tuned")
    return [subprocess.Popen(cmd) for _ in range(count)]


def _wait_for(helpers: list[subprocess.Popen[bytes]]) -> int:
    try:
        codes = [p.wait() for p in helpers]
    finally:
        for p in helpers:
            if p.poll() is None:
                p.terminate()
    print(f"{len(helpers)} helper worker{'s' if len(helpers) > 1 else ''} exited with {codes}")
    return max(codes)


def run(args: argparse.Namespace) -> int:
    from studies.spec import load_study

    if args.workers != "auto" and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give a whole number of processes >= 1")
    if not args.lease_seconds > 0:
        raise ConfigError(f"--lease-seconds {args.lease_seconds}: give a number of seconds > 0")
    study = load_study(args.study)
    if args.tuned:
        from studies.tuning import load_tuned, tuned_dir

        records = load_tuned()
        if not records:
            raise ConfigError(
                f"--tuned: no tuned parameters in {tuned_dir()}; run `routerlab tune` first"
            )
        study = study.with_tuned(records)
        for key, record in sorted(records.items()):
            values = {**record["router_params"], **record["label_params"]}
            print(f"tuned {key}: {json.dumps(values, default=str)}")
    if args.list:
        from harness import paths
        from studies.runner import StudyLoader, keyed_combinations

        loader = StudyLoader(args.data_dir or paths.data_dir(), study.model_pair)
        combos = keyed_combinations(study, loader)
        for c in combos:
            print(f"{c.key}  {c.describe()}")
        print(f"{len(combos)} combinations")
        return 0

    from studies.runner import run_study

    failed = False
    n_combinations = sum(1 for _ in study.combinations())
    has_grid = n_combinations > 0
    workers = auto_workers(n_combinations) if args.workers == "auto" else int(args.workers)
    helpers = _start_helpers(args, workers - 1) if workers > 1 and has_grid else []
    try:
        outcome = run_study(
            study,
            data_dir=args.data_dir,
            progress=not args.no_progress,
            lease_seconds=args.lease_seconds,
        )
    except BaseException:
        for p in helpers:
            p.terminate()
        raise
    if helpers:
        failed = _wait_for(helpers) != 0
    if outcome.total:  # a judge-only study has no grid to summarise
        others = f", {outcome.by_others} by other workers" if outcome.by_others else ""
        print(
            f"study {study.name}: {outcome.total} combinations, {outcome.skipped} already "
            f"finished, {len(outcome.ran)} run now{others}, {len(outcome.failed)} failed "
            f"({outcome.seconds:.0f} s); MLflow parent run {outcome.parent_run_id}"
        )
    for what, why in outcome.failed:
        print(f"  failed: {what}: {why}")
    failed = failed or bool(outcome.failed)
    if study.judge is not None and not args.no_judge:
        from studies.judging import run_study_judge

        summary = run_study_judge(study, data_dir=args.data_dir)
        print(summary)
    # A judge-only study (Table 3 for another study's grid) has no evaluation runs to report:
    # its table goes into the report of the study it judged.
    report_study = study.name
    if study.judge is not None and study.judge.from_study and not has_grid:
        report_study = study.judge.from_study
    print(f"next: routerlab report --study {report_study}")
    return 1 if failed else 0
