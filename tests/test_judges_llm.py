"""The best-of-three judge end to end on GSM8K with the small SmolLM2 model (real llama.cpp)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from harness.benchmarks.routellm import gsm8k_gold_answers
from judges.best_of_three import BestOfThreeJudge
from studies.judging import judge_items

pytestmark = [pytest.mark.slow, pytest.mark.llm]


def _items(data_dir: Path, n: int) -> list:
    from harness.benchmarks import load_benchmark

    bench = load_benchmark("gsm8k", data_dir)
    rng = np.random.default_rng(0)
    systems = {
        "weak-only": (np.zeros(len(bench)), 0.0),
        "strong-only": (np.ones(len(bench)), 100.0),
        "random-half": (rng.random(len(bench)), 50.0),
    }
    return judge_items(bench, systems, gsm8k_gold_answers(data_dir), seed=0, limit=n)


def _require_model() -> None:
    from harness.llm.model_pack import is_installed

    if not is_installed("smollm2"):
        pytest.fail(
            "SmolLM2 is not installed: run `routerlab models install smollm2` (make test does)"
        )


@pytest.mark.parametrize("endpoint", ["smollm2", "server:smollm2"])
def test_judge_runs_on_a_real_local_model_and_is_cached(data_dir: Path, endpoint: str) -> None:
    if endpoint.startswith("server:") and importlib.util.find_spec("harness.llm.local") is None:
        pytest.fail("harness.llm.local (ensure_server) is missing")
    _require_model()
    items = _items(data_dir, 4)
    assert len(items) == 4 and items[0].gold  # gold answers joined by question text
    judge = BestOfThreeJudge(endpoint=endpoint, seed=0, max_tokens=12)
    first = judge.judge(items, progress=False)
    assert first.n_questions == 4
    assert first.n_unparseable + sum(v.parsed for v in first.verdicts) == 4
    for v in first.verdicts:
        assert set(v.best) <= {"weak-only", "strong-only", "random-half"}
        assert sorted(v.order) == sorted(["weak-only", "strong-only", "random-half"])
    parsed = [v for v in first.verdicts if v.parsed]
    for name, score in first.scores.items():
        if parsed:
            assert score == pytest.approx(100 * sum(name in v.best for v in parsed) / len(parsed))
    # Every call is cached: a second run asks the model nothing and gives the same replies.
    second = judge.judge(items, progress=False)
    assert [v.reply for v in second.verdicts] == [v.reply for v in first.verdicts]
    assert judge.last_usage.cache_hits == judge.last_usage.calls == 4


def test_reply_store_carries_a_judge_run_to_another_machine(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies go to a committed-able file without prompt text; a run with an empty LLM
    cache (a new machine) reads them from there and asks the model nothing."""
    from harness.llm import client as llm_client

    _require_model()
    items = _items(data_dir, 3)
    store = tmp_path / "replies.jsonl"
    judge = BestOfThreeJudge(endpoint="smollm2", seed=0, max_tokens=12, store=str(store))
    first = judge.judge(items, progress=False)
    lines = store.read_text().splitlines()
    asked = sum(len(set(it.responses.values())) > 1 for it in items)
    assert len(lines) == asked
    assert all(it.question[:30] not in store.read_text() for it in items)

    monkeypatch.setattr(llm_client, "default_cache_path", lambda: tmp_path / "empty.sqlite")
    second = BestOfThreeJudge(endpoint="smollm2", seed=0, max_tokens=12, store=str(store))
    again = second.judge(items, progress=False)
    assert [v.reply for v in again.verdicts] == [v.reply for v in first.verdicts]
    assert second.last_usage.calls == 0
    assert len(store.read_text().splitlines()) == asked  # nothing appended twice
    # Nor is the model needed: a machine without it still reads the stored replies.
    from harness.paths import cache_dir

    monkeypatch.setenv("ROUTERLAB_CACHE_DIR", str(tmp_path / "no-models"))
    assert not (cache_dir() / "models").exists()
    third = BestOfThreeJudge(endpoint="smollm2", seed=0, max_tokens=12, store=str(store))
    assert [v.reply for v in third.judge(items, progress=False).verdicts] == [
        v.reply for v in first.verdicts
    ]
