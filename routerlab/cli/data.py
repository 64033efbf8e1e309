"""``routerlab data fetch|check``: fill and verify the data directory.

``fetch`` downloads every file of ``harness/data_sources.json`` from its pinned-commit
GitHub URL (or copies it from a local mirror with ``--from DIR``), checks its sha256 and
only then moves it into place. ``check`` reports missing or corrupt files (exit status 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("data", help="fetch or check the benchmark data files",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    f = sub.add_parser(
        "fetch", help="download (or copy with --from) the data files, sha256-checked"
    )
    f.add_argument("--from", dest="from_dir", type=Path,
                   help="copy from this local mirror (laid out like the data directory)")
    f.add_argument("--data-dir", type=Path, help="target (default $ROUTERLAB_DATA_DIR)")
    f.add_argument("--force", action="store_true", help="re-fetch files that are already correct")
    f.add_argument("--timeout", type=float, default=60.0, help="seconds per download")
    f.set_defaults(func=run_fetch)
    c = sub.add_parser("check", help="verify every data file (presence and sha256)")
    c.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")
    c.add_argument("--all", dest="list_all", action="store_true",
                   help="list every file, not only problems")
    c.add_argument("--quiet", "-q", action="store_true",
                   help="print nothing; only the exit status says (0 ok, 1 missing/corrupt)")
    c.set_defaults(func=run_check)


def run_fetch(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from harness import data, paths
    from harness.errors import DataError

    root = args.data_dir or paths.data_dir()
    if args.from_dir is not None and not args.from_dir.is_dir():
        raise DataError(f"{args.from_dir}: --from must be an existing folder (a data mirror)")
    counts = {"present": 0, "fetched": 0, "failed": 0}
    failures = []
    total = len(data.manifest())
    for result in tqdm(
        data.iter_fetch(root, from_dir=args.from_dir, force=args.force, timeout=args.timeout),
        total=total, desc="data fetch", unit="file", disable=None,
    ):
        counts[result.action] += 1
        if result.action == "failed":
            failures.append(result)
    source = f"from {args.from_dir}" if args.from_dir else "from pinned GitHub URLs"
    print(f"{total} files in {root} ({source}): {counts['present']} already present, "
          f"{counts['fetched']} fetched, {counts['failed']} failed")
    for r in failures[:5]:
        print(f"  FAILED {r.path}: {r.detail}")
    if len(failures) > 5:
        print(f"  ... and {len(failures) - 5} more")
    if failures:
        raise DataError(f"{len(failures)} file(s) could not be fetched (listed above); "
                        "check the network or the mirror and rerun `routerlab data fetch`")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from harness import data, paths

    root = args.data_dir or paths.data_dir()
    statuses = data.check(root)
    bad = [s for s in statuses if s.state != "ok"]
    if args.quiet:
        return 1 if bad else 0
    for s in statuses if args.list_all else bad:
        print(f"{s.state:8s} {s.path} {s.detail}".rstrip())
    print(f"{len(statuses) - len(bad)}/{len(statuses)} data files ok in {root}")
    if bad:
        print("fix: routerlab data fetch   (or: routerlab data fetch --from MIRROR_DIR)")
        return 1
    return 0
