"""``routerlab run STUDY``: every combination of a study file, as child MLflow runs, resumable.

Examples::

    routerlab run studies/paper.toml          # the paper's grid (a rerun skips finished cells)
    routerlab run smoke                       # a shipped study by name
    routerlab run studies/paper.toml --list   # print the combinations and their keys
    routerlab run studies/paper.toml --tuned  # with `routerlab tune`'s best parameters
    routerlab run studies/paper.toml --workers 3   # three local worker processes

Several ``routerlab run`` of one study (on this machine, or on machines sharing a
PostgreSQL-backed MLflow store via MLFLOW_TRACKING_URI) share its combinations: each is
evaluated once, by the worker that claims it; a worker that dies leaves its combination to
the others (at once on this machine, after --lease-seconds elsewhere).
"""

from __future__ import annotations

import argparse
import json
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
        type=int,
        default=1,
        help="worker processes to start on this machine (default 1: this process)",
    )
    p.add_argument(
        "--lease-seconds",
        type=float,
        default=60.0,
        help="a claim not renewed for this long is taken over by other workers (default 60)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _spawn_workers(args: argparse.Namespace) -> int:
    """Start ``args.workers`` processes of ``routerlab run`` on the same study; wait for all."""
    package = __name__.rsplit(".", 1)[0]  # the CLI package, wherever it lives
    cmd = [
        sys.executable,
        "-c",
        f"import sys; from {package} import main; sys.exit(main())",
        "run",
        str(args.study),
        "--no-judge",
        "--no-progress",
        "--lease-seconds",
        str(args.lease_seconds),
    ]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    if args.tuned:
        cmd.append("--tuned")
    procs = [subprocess.Popen(cmd) for _ in range(args.workers)]
    try:
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
    print(f"{args.workers} workers exited with {codes}")
    return max(codes)


def run(args: argparse.Namespace) -> int:
    from studies.spec import load_study

    if args.workers < 1:
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
    has_grid = any(True for _ in study.combinations())
    if args.workers > 1:
        failed = _spawn_workers(args) != 0
    else:
        outcome = run_study(
            study,
            data_dir=args.data_dir,
            progress=not args.no_progress,
            lease_seconds=args.lease_seconds,
        )
        if outcome.total:  # a judge-only study has no grid to summarise
            others = f", {outcome.by_others} by other workers" if outcome.by_others else ""
            print(
                f"study {study.name}: {outcome.total} combinations, {outcome.skipped} already "
                f"finished, {len(outcome.ran)} run now{others}, {len(outcome.failed)} failed "
                f"({outcome.seconds:.0f} s); MLflow parent run {outcome.parent_run_id}"
            )
        for what, why in outcome.failed:
            print(f"  failed: {what}: {why}")
        failed = bool(outcome.failed)
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
