"""``routerlab calibrate``: the score threshold that sends a target share of prompts to the
strong model (RouteLLM's calibration), and the share it gives on a second prompt set.

Examples::

    routerlab calibrate --router knn --labels arena --share 0.3 --prompts gsm8k
    routerlab calibrate -r mf -l se --share 0.5 --prompts traffic.jsonl --check-prompts mmlu \\
        --out calibration.json

The router is trained on every label of the label source, as ``routerlab export`` ships it.
``--prompts`` / ``--check-prompts`` take a benchmark name, a .csv/.jsonl/.parquet file with a
``prompt`` column, or a .txt file (one prompt a line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.prompt_features import EMBEDDING, FEATURE_SETS
from routerlab.cli.evaluate import parse_key_values


def add_router_args(p: argparse.ArgumentParser) -> None:
    """The flags that say which router to train (shared with ``routerlab export``)."""
    p.add_argument("--router", "-r", required=True, help="a registered router (knn, mf, mlp, ...)")
    p.add_argument("--labels", "-l", required=True, help="label source (se, accuracy, arena)")
    p.add_argument("--router-param", action="append", default=[], metavar="KEY=VALUE",
                   help="router hyper-parameter (repeatable)")
    p.add_argument("--label-param", action="append", default=[], metavar="KEY=VALUE",
                   help="label-source hyper-parameter (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="router seed (default 0)")
    p.add_argument("--features", default=EMBEDDING, choices=FEATURE_SETS,
                   help="what the router reads: embedding (default) or embedding+stats (the "
                        "embedding plus text statistics, computed again on routed prompts)")
    p.add_argument("--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)")


def add_calibration_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--share", type=float, required=required,
                   help="target share of prompts for the strong model, 0..1 (e.g. 0.3)")
    p.add_argument("--prompts", required=required,
                   help="calibration prompts: a benchmark name or a prompt file")
    p.add_argument("--check-prompts", help="a second prompt set: the share there (drift)")
    p.add_argument("--limit", type=int, help="use the first N prompts of each set")


def train_from_args(args: argparse.Namespace) -> Any:
    from harness.serving.trained import train_router

    return train_router(
        args.router, args.labels,
        router_params=parse_key_values(args.router_param, "--router-param"),
        label_params=parse_key_values(args.label_param, "--label-param"),
        seed=args.seed, data_dir=args.data_dir, features=args.features,
    )


def check_calibration_args(args: argparse.Namespace) -> None:
    """Refuse bad flags before minutes of training."""
    from harness.errors import ConfigError

    if args.share is not None and not 0.0 <= args.share <= 1.0:
        raise ConfigError(
            f"--share must lie in [0, 1] (a share, not a percentage), got {args.share}"
        )
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")


def calibrate_from_args(trained: Any, args: argparse.Namespace) -> Any:
    """Score the calibration (and check) prompts with ``trained`` and calibrate."""
    from harness.serving.calibration import calibrate, read_prompts

    prompts = read_prompts(args.prompts, data_dir=args.data_dir, limit=args.limit)
    check = None
    if args.check_prompts:
        check = trained.scores(
            read_prompts(args.check_prompts, data_dir=args.data_dir, limit=args.limit),
            show_progress=True,
        )
    return calibrate(
        trained.scores(prompts, show_progress=True), args.share,
        calibration_set=args.prompts, check_scores=check, check_set=args.check_prompts,
    )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="threshold for a target share of strong calls, and its drift on other prompts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_router_args(p)
    add_calibration_args(p, required=True)
    p.add_argument("--out", type=Path, help="write the calibration as JSON here")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.serving.calibration import describe

    check_calibration_args(args)
    trained = train_from_args(args)
    result = calibrate_from_args(trained, args)
    record = {**result.as_dict(), "router": trained.describe()}
    text = json.dumps(record, indent=2, default=str)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        print(f"router {args.router} trained on {trained.n_train} {args.labels} labels")
        for line in describe(result):
            print(line)
    if args.out is not None:
        print(f"calibration: {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0
