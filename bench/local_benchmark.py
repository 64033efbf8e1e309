"""Building a local-pair benchmark: questions per minute, one question at a time vs batched.

    python bench/local_benchmark.py                       # 8 GSM8K questions, Qwen 0.5B / 1.5B
    python bench/local_benchmark.py --questions 16 --batch-size 8 --threads 1

Both arms answer the same GSM8K test questions from nothing (each gets a fresh, empty LLM
call cache, so every answer is paid) with ``routerlab benchmark build-local-gsm8k``'s
settings (greedy, step by step, up to 384 tokens), both models one after the other:

* baseline: ``--batch-size 1``, one question after another (the one-request path);
* ours: ``--batch-size B``, B questions decoded as parallel sequences of one llama.cpp batch
  (:meth:`harness.llm.inprocess.LlamaInProcess.chat_many`).

Prints questions per minute for both, the ratio, and how often the two arms gave the same
answer and the same grade: a batched greedy answer can take the other branch at a near tie
(another attention kernel), so a grade may differ now and then.
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--questions", type=int, default=8, help="GSM8K test questions")
    p.add_argument("--batch-size", type=int, default=8, help="questions per batch (ours)")
    p.add_argument("--weak", default="qwen-0.5b")
    p.add_argument("--strong", default="qwen-1.5b")
    p.add_argument("--threads", type=int, help="CPU threads per model (default: all)")
    args = p.parse_args()

    from harness.benchmarks.local_pair import build_local_gsm8k
    from harness.llm.model_pack import models_dir
    from harness.paths import data_dir

    models = models_dir()
    data = data_dir()
    arms = {"baseline": 1, "ours": args.batch_size}
    rows: dict[str, list[dict[str, object]]] = {}
    minutes: dict[str, float] = {}
    for name, batch_size in arms.items():
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            # A fresh call cache per arm; the installed models are shared.
            (Path(tmp) / "models").symlink_to(models)
            os.environ["ROUTERLAB_CACHE_DIR"] = tmp
            out = Path(tmp) / "pair.jsonl"
            start = time.perf_counter()
            build_local_gsm8k(
                limit=args.questions,
                weak=args.weak,
                strong=args.strong,
                out=out,
                data_dir=data,
                threads=args.threads,
                batch_size=batch_size,
                progress=False,
            )
            minutes[name] = (time.perf_counter() - start) / 60
            rows[name] = [json.loads(line) for line in out.read_text().splitlines()]
        rate = args.questions / minutes[name]
        print(f"{name:9s} batch {batch_size}: {rate:6.2f} questions/min ({minutes[name]:.1f} min)")
    print(f"ratio ours / baseline: {minutes['baseline'] / minutes['ours']:.2f}x")
    for side in ("weak", "strong"):
        pairs = list(zip(rows["baseline"], rows["ours"], strict=True))
        same_text = sum(a[f"{side}_response"] == b[f"{side}_response"] for a, b in pairs)
        same_grade = sum(a[side] == b[side] for a, b in pairs)
        acc = {arm: sum(bool(r[side]) for r in rows[arm]) for arm in arms}
        print(
            f"{side}: same answer {same_text}/{len(pairs)}, same grade {same_grade}/{len(pairs)}; "
            f"correct: baseline {acc['baseline']}, ours {acc['ours']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
