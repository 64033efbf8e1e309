"""``routerlab compare RUN_A RUN_B``: is one router better than another on a benchmark?

A paired bootstrap over the prompts both runs scored (the same resampled prompts for both
routers) gives the 95 % interval of CPT(A) − CPT(B); an interval below 0 means A needs
fewer strong calls than B with 95 % confidence. Run ids are printed by ``routerlab
evaluate`` and shown in the MLflow UI.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="paired bootstrap CI of the CPT difference between two runs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_a", metavar="RUN_A", help="MLflow run id of the first evaluation")
    p.add_argument("run_b", metavar="RUN_B", help="MLflow run id of the second evaluation")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.comparison import compare_runs
    from harness.errors import ConfigError

    if args.n_boot < 1:
        raise ConfigError("--n-boot must be at least 1")
    a, b, result = compare_runs(
        args.run_a, args.run_b, data_dir=args.data_dir, n_boot=args.n_boot, seed=args.seed
    )
    d = result.difference
    rows = []
    for p in d.pcts:
        lo, hi = d.ci(p)
        rows.append({"pct": p, "cpt_a": result.cpt_a[p], "cpt_b": result.cpt_b[p],
                     "difference": d.point[d.pcts.index(p)], "lo": lo, "hi": hi,
                     "verdict": "A better" if hi < 0 else "B better" if lo > 0 else
                     "no difference at 95%"})
    if args.json:
        print(json.dumps({"benchmark": result.benchmark, "n": result.n,
                          "n_only_a": result.n_only_a, "n_only_b": result.n_only_b,
                          "run_a": a.__dict__, "run_b": b.__dict__, "n_boot": args.n_boot,
                          "rows": rows}, indent=2))
        return 0
    for tag, info in (("A", a), ("B", b)):
        print(f"{tag}: {info.run_id}  {info.system} / {info.router}  labels {info.label_source}"
              f"  protocol {info.protocol}")
    only = ""
    if result.n_only_a or result.n_only_b:
        only = f" ({result.n_only_a} scored only by A, {result.n_only_b} only by B, left out)"
    print(f"benchmark {result.benchmark}: {result.n} prompts scored by both{only}; "
          f"paired bootstrap, {args.n_boot} resamples")
    for r in rows:
        print(f"  CPT({r['pct']:g}%)  A {r['cpt_a']:.1f}  B {r['cpt_b']:.1f}  A − B "
              f"{r['difference']:+.1f} [{r['lo']:+.1f}, {r['hi']:+.1f}]  {r['verdict']}")
    return 0
