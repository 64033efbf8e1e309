"""``routerlab run STUDY``: every combination of a study file, as child MLflow runs, resumable.

Examples::

    routerlab run studies/paper.toml          # the paper's grid (a rerun skips finished cells)
    routerlab run smoke                       # a shipped study by name
    routerlab run studies/paper.toml --list   # print the combinations and their keys
    routerlab run studies/paper.toml --tuned  # with `routerlab tune`'s best parameters
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from studies.spec import load_study

    study = load_study(args.study)
    if args.tuned:
        from harness.errors import ConfigError
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

    outcome = run_study(study, data_dir=args.data_dir)
    if outcome.total:  # a judge-only study has no grid to summarise
        print(
            f"study {study.name}: {outcome.total} combinations, {outcome.skipped} already "
            f"finished, {len(outcome.ran)} run now, {len(outcome.failed)} failed "
            f"({outcome.seconds:.0f} s); MLflow parent run {outcome.parent_run_id}"
        )
    for what, why in outcome.failed:
        print(f"  failed: {what}: {why}")
    if study.judge is not None and not args.no_judge:
        from studies.judging import run_study_judge

        summary = run_study_judge(study, data_dir=args.data_dir)
        print(summary)
    # A judge-only study (Table 3 for another study's grid) has no evaluation runs to report:
    # its table goes into the report of the study it judged.
    report_study = study.name
    if study.judge is not None and study.judge.from_study and outcome.total == 0:
        report_study = study.judge.from_study
    print(f"next: routerlab report --study {report_study}")
    return 1 if outcome.failed else 0
