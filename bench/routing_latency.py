"""End-to-end latency of one routing decision (embed one prompt + score it + compare with the
threshold): in process, and through the exported model served by ``mlflow models serve``.

    nice -n 10 python bench/routing_latency.py            # 200 decisions each way
    nice -n 10 python bench/routing_latency.py --n 500

The router is kNN (k=15, similarity weights) trained on the arena labels, exported with
``routerlab export`` into a throw-away MLflow store. Prompts are MMLU and GSM8K benchmark
prompts, one per decision, each new to the embedding model (no cache: the served model
never caches, and the in-process path here calls the same ``route_prompts``). Both paths run
the same prompts in the same order after a warm-up of 10 decisions.

The in-process path runs torch with one thread (a single prompt gains nothing from more; the
served model keeps MLflow's default). Baseline, measured in the same run: the in-process
decision. The served path adds HTTP,
JSON, MLflow's input validation and the pyfunc wrapper; the ratio column is each path's
median over the in-process median.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timings(decide: Callable[[str], object], prompts: list[str]) -> np.ndarray:
    for p in prompts[:10]:
        decide(p)  # warm-up: model load, first allocations, the server's first request
    out = []
    for p in prompts:
        t0 = time.perf_counter()
        decide(p)
        out.append(time.perf_counter() - t0)
    return 1000 * np.asarray(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="decisions per path (default 200)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        os.environ["ROUTERLAB_HOME"] = home
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home}/mlflow.db"
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from harness.benchmarks import load_benchmark
        from harness.serving.model import route_prompts
        from harness.serving.server import post_prompts, served_model
        from routerlab.cli import main as cli

        name = "bench-router"
        argv = ["export", "-r", "knn", "-l", "arena", "--router-param", "k=15",
                "--router-param", "weights=similarity", "--threshold", "0.7", "--name", name]
        if cli(argv) != 0:
            return 1
        import mlflow

        model = mlflow.pyfunc.load_model(f"models:/{name}/1")
        python_model = model.unwrap_python_model()
        router, config = python_model.router, python_model.config
        mmlu, gsm8k = load_benchmark("mmlu"), load_benchmark("gsm8k")
        prompts = [p for pair in zip(mmlu.prompts, gsm8k.prompts, strict=False) for p in pair]
        prompts = prompts[: args.n + 10]

        import torch

        # One prompt gains nothing from intra-op threads; on a busy 2-core machine two torch
        # threads made the in-process decision 4x slower (measured: 337 vs 85 ms median).
        torch.set_num_threads(1)
        local = timings(lambda p: route_prompts(router, config, [p]), prompts)
        with served_model(f"models:/{name}/1", log_path=Path(home) / "serve.log") as url:
            served = timings(lambda p: post_prompts(url, [p]), prompts)

    base = float(np.median(local))
    print(f"one routing decision (embed + kNN score + threshold), {args.n} prompts, "
          f"{os.cpu_count()} CPUs")
    print(f"{'path':<34}{'median ms':>10}{'p99 ms':>10}{'ratio':>8}")
    for label, ms in (("in process (route_prompts)", local),
                      ("mlflow models serve (HTTP)", served)):
        med, p99 = float(np.median(ms)), float(np.percentile(ms, 99))
        print(f"{label:<34}{med:>10.2f}{p99:>10.2f}{med / base:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
