"""Table 3 wiring: best runs → routed responses → judge → MLflow run → report table.

The judge's model is replaced by a fixed reply function here (pure logic); the real model
path is covered by tests/test_judges_llm.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from studies.spec import JudgeSpec


def _log_scored_runs(data_dir: Path) -> None:
    import mlflow
    import pandas as pd

    from harness.benchmarks import load_benchmark
    from harness.tracking import _setup, experiment_id

    bench = load_benchmark("gsm8k", data_dir)
    client = _setup()
    exp = experiment_id(client=client)
    rng = np.random.default_rng(0)
    for system, router, c50, c80 in (
        ("TO-Router", "knn", 45.0, 78.0),
        ("RouteLLM", "sw_ranking", 48.0, 80.0),
        ("Confidence", "mlp", 40.0, 75.0),
        ("Confidence", "knn", 60.0, 90.0),  # worse: never chosen
    ):
        tags = {
            "routerlab.kind": "evaluation",
            "routerlab.study": "t3",
            "routerlab.system": system,
            "routerlab.router": router,
            "routerlab.benchmark": "gsm8k",
            "routerlab.key": f"{system}-{router}",
        }
        with mlflow.start_run(experiment_id=exp, tags=tags):
            mlflow.log_metrics({"cpt_50": c50, "cpt_80": c80})
            frame = pd.DataFrame({"prompt_id": bench.prompt_ids, "score": rng.random(len(bench))})
            mlflow.log_text(frame.to_csv(index=False), "scores.csv")


def test_judge_step_logs_table3(data_dir: Path) -> None:
    from reports.render import to_markdown
    from reports.runs import load_runs
    from reports.tables import judge_table
    from studies.judging import run_judge

    _log_scored_runs(data_dir)
    seen: list[str] = []

    def always_position_one(prompts: Sequence[str]) -> list[str]:
        seen.extend(prompts)
        return ["LLM 1" if i % 5 else "no idea" for i in range(len(prompts))]

    # The literal protocol: the judge is asked about every question, identical responses too.
    spec = JudgeSpec(
        benchmark="gsm8k", endpoint="fixed-replies", limit=20, seed=0, params={"identical": "ask"}
    )
    out = run_judge(spec, "t3", data_dir=data_dir, progress=False, ask=always_position_one)
    m = out["metrics"]
    assert len(seen) == 40  # 20 questions at each of CPT(50%) and CPT(80%)
    assert m["n_questions_50"] == 20 and m["n_unparseable_50"] == 4
    # One system named per parsed reply, the shuffle spreads position 1 over the systems:
    total = sum(m[f"score_50_{s}"] for s in ("TO-Router", "RouteLLM", "Confidence"))
    assert total == 100.0
    assert 0 < m["score_50_Confidence"] < 100
    assert out["params"]["router_Confidence"] == "mlp"  # the best Confidence router
    # The question and gold answer are in the prompt; the gold is GSM8K's final number.
    assert "Ground Truth Answer:" in seen[0] and "Question: " in seen[0]

    table = judge_table(load_runs("t3"))
    assert table is not None
    md = to_markdown(table)
    assert "Confidence | MLP" in md and "fixed-replies" in md and "4 unparseable" in md


def test_identical_responses_are_scored_as_ties_without_a_call(data_dir: Path) -> None:
    from studies.judging import run_judge

    _log_scored_runs(data_dir)
    seen: list[str] = []

    def ask(prompts: Sequence[str]) -> list[str]:
        seen.extend(prompts)
        return ["LLM 2"] * len(prompts)

    spec = JudgeSpec(benchmark="gsm8k", endpoint="fixed-replies", limit=30, seed=0)
    m = run_judge(spec, "t3", data_dir=data_dir, progress=False, ask=ask)["metrics"]
    identical = m["n_identical_50"] + m["n_identical_80"]
    assert 0 < identical < 60  # random scores: some questions go to one model in all systems
    assert len(seen) == 60 - identical
    # A tie names all three; every other reply names one system: the scores add up to that.
    total = sum(m[f"score_50_{s}"] for s in ("TO-Router", "RouteLLM", "Confidence"))
    assert total == pytest.approx(100.0 * (30 + 2 * m["n_identical_50"]) / 30)
