"""``routerlab plugins``: what the registries hold (built-ins and entry-point plugins)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("plugins", help="list routers, label sources, benchmarks, judges")
    p.add_argument("--check", action="store_true",
                   help="load every entry and report the ones that fail")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from baselines import SYSTEMS
    from harness.plugins import BENCHMARKS, JUDGES, LABEL_SOURCES, ROUTERS

    registries = {
        "routers": ROUTERS,
        "label sources": LABEL_SOURCES,
        "benchmarks": BENCHMARKS,
        "judges": JUDGES,
    }
    report: dict[str, dict[str, str]] = {}
    failed = 0
    for title, reg in registries.items():
        entries: dict[str, str] = {}
        for name in reg.names():
            status = ""
            if args.check:
                try:
                    reg.get(name)
                    status = "ok"
                except Exception as exc:  # report every broken entry, keep going
                    status = f"error: {exc}"
                    failed += 1
            entries[name] = status
        report[title] = entries
    if args.json:
        report["systems"] = {name: s.description or s.family for name, s in SYSTEMS.items()}
        print(json.dumps(report, indent=2))
    else:
        for title, entries in report.items():
            print(f"{title} ({reg_group(registries[title])}):")
            for name, status in entries.items():
                print(f"  {name}{'  ' + status if status else ''}")
        print("evaluate-time pseudo-routers: random, oracle, scores (--scores-file)")
        print("named systems (routerlab evaluate --system NAME):")
        for name, system in SYSTEMS.items():
            print(f"  {name}  {system.description or system.family}")
    return 1 if failed else 0


def reg_group(reg: Any) -> str:
    return f"entry points: {reg.entry_point_group}"
