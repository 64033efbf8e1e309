"""``routerlab report``: tables (Markdown, LaTeX, HTML) and figures (PNG) from tracked runs.

Examples::

    routerlab report                          # study "paper" → .routerlab/report/paper/
    routerlab report --study smoke --out /tmp/r
    routerlab report --study paper --judge-study judge_local
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a study's tables and figures from its MLflow runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--study", default="paper", help="study name (default paper); 'all' for every run"
    )
    p.add_argument("--out", type=Path, help="output folder (default .routerlab/report/STUDY)")
    p.add_argument(
        "--judge-study",
        help="study whose judge run gives Table 3 (default: this "
        "study, else the latest judge run of any study)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.paths import home_dir
    from reports.build import write_report

    study = None if args.study == "all" else args.study
    out = args.out or home_dir() / "report" / (study or "all")
    written = write_report(study, out, judge_study=args.judge_study)
    table1 = out / "tables" / "table1.md"
    if table1.exists():
        print(table1.read_text())
    print(f"wrote {len(written)} files to {out}:")
    for path in written:
        if path.parent == out:
            print(f"  {path.name}")
    print(f"  tables/ ({sum(1 for p in written if p.parent.name == 'tables')} files)")
    return 0
