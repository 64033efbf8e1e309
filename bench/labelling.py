"""End-to-end SE labelling throughput (prompts per minute, generation and NLI included).

    python bench/labelling.py --prompts 8                 # Qwen 0.5B / 1.5B, embedding NLI
    python bench/labelling.py --prompts 8 --nli llm:qwen-1.5b
    python bench/labelling.py --prompts 8 --dataset mmlu_train     # exact letter distributions
    python bench/labelling.py --prompts 2 --dataset gsm8k_train --reasoning-tokens 384

Both arms label the same training prompts from nothing (each gets a fresh, empty LLM call
cache, so every generation and NLI call is paid), with the label run's settings (K = 5,
top-k = 50, greedy answer + K samples per model):

* baseline: one thing at a time, as a plain script would: the weak model's calls, then the
  strong model's, then clustering by the reference algorithm (jlko/semantic_uncertainty
  ``get_semantic_ids``: one NLI call per ordered pair, batch size 1);
* ours: :func:`harness.labels.se.pipeline.run_se_pipeline` (both models generate in their
  own threads, each prompt's greedy answer and K samples decoded as one llama.cpp batch, the
  faster model at most two prompts ahead and lending its thread to the slower one while it
  waits, clustering in batched rounds as soon as a prompt's samples are in).

For ``mmlu_train`` each model makes one call per prompt (its letter distribution) and nothing
is clustered; for ``gsm8k_train`` with ``--reasoning-tokens`` the samples are step-by-step
solutions clustered by their final number. Prints prompts per minute for both and the
ratio. On 2 cores the models' generation dominates, so the ratio mostly measures the overlap
of the two models and the NLI and, for long answers (``--reasoning-tokens``), the batched
decoding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--prompts", type=int, default=8, help="training prompts (paper mix)")
    p.add_argument("--samples", type=int, default=5, help="K samples per prompt and model")
    p.add_argument("--weak", default="qwen-0.5b")
    p.add_argument("--strong", default="qwen-1.5b")
    p.add_argument("--nli", default="embedding:0.85", help="embedding[:T] | llm:ENDPOINT")
    p.add_argument("--offset", type=int, default=1000, help="skip the label set's first rows")
    p.add_argument(
        "--dataset",
        default="paper",
        help="paper (the NQ/TriviaQA/MAWPS mix) or one training dataset (mmlu_train, ...)",
    )
    p.add_argument("--reasoning-tokens", type=int, default=0, help="step-by-step math answers")
    args = p.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)

    from harness.labels.se.clustering import equal_answer_clusters, reference_semantic_ids
    from harness.labels.se.nli import make_nli
    from harness.labels.se.pipeline import run_se_pipeline
    from harness.labels.se.sampling import (
        MULTIPLE_CHOICE_DATASETS,
        SamplingConfig,
        choice_request,
        final_answer,
        greedy_request,
        reasons,
        sample_requests,
    )
    from harness.llm import LLMCache, LLMClient, local_endpoint
    from harness.paths import data_dir
    from harness.training_data import paper_mix

    cfg = SamplingConfig(k=args.samples, reasoning_tokens=args.reasoning_tokens)
    datasets = ("nq_open", "triviaqa", "mawps") if args.dataset == "paper" else (args.dataset,)
    # Prompts past the committed set's, so no machine has them cached from a label run.
    mix = paper_mix(args.offset + args.prompts, seed=0, datasets=datasets, data_dir=data_dir())
    prompts = mix.iloc[args.offset :].reset_index(drop=True)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_root:
        for arm in ("baseline", "ours"):
            cache = LLMCache(Path(tmp_root) / f"{arm}.sqlite")
            weak = LLMClient(local_endpoint(args.weak), n_threads=1, cache=cache)
            strong = LLMClient(local_endpoint(args.strong), n_threads=1, cache=cache)
            nli = make_nli(args.nli, n_threads=1, cache=cache)
            # Load the models and the NLI backend outside the timing.
            warm = greedy_request("nq_open", "warm-up", cfg)
            weak.call(warm)
            strong.call(warm)
            nli.entails([("warm-up", "a", "b")])
            start = time.perf_counter()
            if arm == "baseline":
                for client in (weak, strong):
                    for d, q in zip(prompts["dataset"], prompts["prompt"], strict=True):
                        if d in MULTIPLE_CHOICE_DATASETS:
                            client.call(choice_request(d, q))
                            continue
                        client.call(greedy_request(d, q, cfg))
                        outs = [client.call(r) for r in sample_requests(d, q, cfg)]
                        if reasons(d, cfg):
                            equal_answer_clusters([final_answer(o.text) for o in outs])
                        else:
                            reference_semantic_ids(q, [o.text.strip() for o in outs], nli)
            else:
                run_se_pipeline(
                    prompts, weak=weak, strong=strong, nli=nli, sampling=cfg, progress=False
                )
            results[arm] = time.perf_counter() - start
    n = len(prompts)
    print(
        f"{n} {args.dataset} prompts, weak {args.weak}, strong {args.strong}, "
        f"K={args.samples}, top-k {cfg.top_k}, NLI {args.nli}, "
        f"reasoning tokens {args.reasoning_tokens}, {os.cpu_count()} CPU cores"
    )
    for arm, wall in results.items():
        print(f"{arm + ':':<10} {60 * n / wall:7.2f} prompts/min  ({wall / n:5.2f} s/prompt)")
    print(
        f"ratio (ours / baseline, prompts per minute): {results['baseline'] / results['ours']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
