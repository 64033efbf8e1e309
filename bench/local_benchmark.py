"""Building a local-pair benchmark: questions per minute, one question at a time vs batched.

    python bench/local_benchmark.py                  # 16 GSM8K questions, Qwen 0.5B / 1.5B
    python bench/local_benchmark.py --arms fixed,continuous --questions 24
    python bench/local_benchmark.py --questions 8 --batch-size 4 --threads 1

Every arm answers the same GSM8K test questions from nothing (each gets a fresh, empty LLM
call cache, so every answer is paid) with ``routerlab benchmark build-local-gsm8k``'s
settings (greedy, step by step, up to 384 tokens), both models one after the other:

* one: ``--batch-size 1``, one question after another (the one-request path);
* fixed: B questions decode as parallel sequences of one llama.cpp batch, and the next B
  start when the longest answer of the batch is done (how the build worked before
  continuous batching; here a chunk of B questions);
* continuous: ``--batch-size B``, as ``build-local-gsm8k`` runs: up to B answers decode at
  once and a finished answer's sequence goes to the next question
  (:meth:`harness.llm.inprocess.LlamaInProcess.chat_many` with ``parallel``).

The first arm is the baseline. Prints questions per minute and tokens per second of each
arm, its ratio to the baseline, and how often it gave the baseline's answer and grade: a
batched greedy answer can take the other branch at a near tie, so a grade may differ now
and then.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARMS = ("one", "fixed", "continuous")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--questions", type=int, default=16, help="GSM8K test questions")
    p.add_argument("--batch-size", type=int, default=8, help="answers decoding at once")
    p.add_argument(
        "--arms", default=",".join(ARMS), help=f"comma-separated, baseline first: {ARMS}"
    )
    p.add_argument("--weak", default="qwen-0.5b")
    p.add_argument("--strong", default="qwen-1.5b")
    p.add_argument("--threads", type=int, help="CPU threads per model (default: all)")
    args = p.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not arms or any(a not in ARMS for a in arms):
        p.error(f"--arms {args.arms!r}: pick from {', '.join(ARMS)}")

    from harness.benchmarks.local_pair import build_local_gsm8k
    from harness.llm.model_pack import models_dir
    from harness.paths import data_dir

    models = models_dir()
    data = data_dir()
    settings = {  # arm → (batch size, chunk size)
        "one": (1, args.questions),
        "fixed": (args.batch_size, args.batch_size),
        "continuous": (args.batch_size, args.questions),
    }
    rows: dict[str, list[dict[str, object]]] = {}
    minutes: dict[str, float] = {}
    for name in arms:
        batch_size, chunk_size = settings[name]
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            # A fresh call cache per arm; the installed models are shared.
            (Path(tmp) / "models").symlink_to(models)
            os.environ["ROUTERLAB_CACHE_DIR"] = tmp
            out = Path(tmp) / "pair.jsonl"
            start = time.perf_counter()
            summary = build_local_gsm8k(
                limit=args.questions,
                weak=args.weak,
                strong=args.strong,
                out=out,
                data_dir=data,
                threads=args.threads,
                batch_size=batch_size,
                chunk_size=chunk_size,
                progress=False,
            )
            minutes[name] = (time.perf_counter() - start) / 60
            rows[name] = [json.loads(line) for line in out.read_text().splitlines()]
        tokens = summary["weak_tokens"] + summary["strong_tokens"]
        print(
            f"{name:10s} batch {batch_size}: {args.questions / minutes[name]:6.2f} questions/min,"
            f" {tokens / (60 * minutes[name]):5.1f} tokens/s ({minutes[name]:.1f} min)",
            flush=True,
        )
    base = arms[0]
    for name in arms[1:]:
        print(f"ratio {name} / {base}: {minutes[base] / minutes[name]:.2f}x")
        for side in ("weak", "strong"):
            pairs = list(zip(rows[base], rows[name], strict=True))
            same_text = sum(a[f"{side}_response"] == b[f"{side}_response"] for a, b in pairs)
            same_grade = sum(a[side] == b[side] for a, b in pairs)
            acc = {arm: sum(bool(r[side]) for r in rows[arm]) for arm in (base, name)}
            print(
                f"  {side}: same answer {same_text}/{len(pairs)}, same grade "
                f"{same_grade}/{len(pairs)}; correct: {base} {acc[base]}, {name} {acc[name]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
