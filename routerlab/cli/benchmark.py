"""``routerlab benchmark``: build benchmarks from local models.

Examples::

    routerlab benchmark build-local-gsm8k                  # Table 2: Qwen 0.5B vs Qwen 1.5B
    routerlab benchmark build-local-mmlu --limit 1000      # ... and on MMLU (57 subjects)
    routerlab benchmark build-local-gsm8k --limit 5 --weak smollm2 --strong smollm2 \\
        --out /tmp/pair.jsonl

Calls are cached: an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="build a benchmark from local models (Table 2's second pair)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="benchmark_command", metavar="ACTION")
    b = sub.add_parser("build-local-gsm8k", help="answer GSM8K test questions with a local pair")
    _pair_arguments(b, limit=None, max_tokens=384, out="gsm8k_qwen.jsonl")
    b.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="answers decoding at once on an in-process model, a finished one's place going "
        "to the next question (default 8; 1: one at a time)",
    )
    b.set_defaults(func=build)
    m = sub.add_parser(
        "build-local-mmlu",
        help="answer MMLU test questions (stratified over subjects) with a local pair",
    )
    _pair_arguments(m, limit=1000, max_tokens=1, out="mmlu_qwen.jsonl")
    m.add_argument("--seed", type=int, default=0, help="which questions of each subject")
    m.add_argument(
        "--free-text",
        action="store_true",
        help="let the models answer in free text, graded by the first letter named (default: "
        "decoding constrained to the letters A-D)",
    )
    m.set_defaults(func=build_mmlu)
    p.set_defaults(func=lambda args: p.print_help() or 1)


def _pair_arguments(parser: Any, *, limit: int | None, max_tokens: int, out: str) -> None:
    """The flags both local-pair builders take (their defaults differ)."""
    parser.add_argument(
        "--limit",
        type=int,
        default=limit,
        help=f"questions (default {limit if limit is not None else 'all'}); the file keeps "
        "exactly these",
    )
    parser.add_argument("--weak", default="qwen-0.5b", help="weak endpoint (default qwen-0.5b)")
    parser.add_argument("--strong", default="qwen-1.5b", help="strong endpoint (default qwen-1.5b)")
    parser.add_argument("--endpoints", type=Path, help="endpoint config for non-local models")
    parser.add_argument(
        "--max-tokens", type=int, default=max_tokens, help=f"answer budget (default {max_tokens})"
    )
    parser.add_argument(
        "--out", type=Path, help=f"output file (default harness/benchmarks/data/{out})"
    )
    parser.add_argument("--threads", type=int, help="CPU threads per local model (default: all)")
    parser.add_argument(
        "--data-dir", type=Path, help="data directory (default $ROUTERLAB_DATA_DIR)"
    )


def build(args: argparse.Namespace) -> int:
    from harness.benchmarks.local_pair import DEFAULT_FILE, build_local_gsm8k

    return _report(
        args,
        build_local_gsm8k(
            limit=args.limit,
            weak=args.weak,
            strong=args.strong,
            out=args.out or DEFAULT_FILE,
            data_dir=args.data_dir,
            max_tokens=args.max_tokens,
            endpoints_file=args.endpoints,
            threads=args.threads,
            batch_size=args.batch_size,
        ),
    )


def build_mmlu(args: argparse.Namespace) -> int:
    from harness.benchmarks.local_pair import DEFAULT_MMLU_FILE, build_local_mmlu

    return _report(
        args,
        build_local_mmlu(
            limit=args.limit,
            seed=args.seed,
            weak=args.weak,
            strong=args.strong,
            out=args.out or DEFAULT_MMLU_FILE,
            data_dir=args.data_dir,
            max_tokens=args.max_tokens,
            constrained=not args.free_text,
            endpoints_file=args.endpoints,
            threads=args.threads,
        ),
    )


def _report(args: argparse.Namespace, summary: dict[str, Any]) -> int:
    print(
        f"wrote {summary['n']} questions to {summary['file']}: weak {args.weak} "
        f"{100 * summary['weak_accuracy']:.1f} %, strong {args.strong} "
        f"{100 * summary['strong_accuracy']:.1f} % correct; tokens spent: weak "
        f"{summary['weak_tokens']}, strong {summary['strong_tokens']}"
    )
    return 0
