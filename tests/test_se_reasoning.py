"""SE labels on GSM8K training questions with step-by-step answers (``--reasoning-tokens``):
samples clustered by the number they end on, on a real local model (SmolLM2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.labels.se.clustering import equal_answer_clusters
from harness.labels.se.entropy import discrete_semantic_entropy
from harness.labels.se.sampling import SamplingConfig, final_answer, messages_for
from harness.labels.se.store import read_label_file
from harness.llm.local import stop_all_servers
from harness.llm.model_pack import install_model
from routerlab.cli import main


def test_step_by_step_answers_mean_their_final_number() -> None:
    answers = [
        final_answer(t)
        for t in (
            "3 + 4 = 7. The answer is 7.",
            "She has 7.0 apples left, so the answer is $7",
            "Step 1: 2 x 6 = 12 ... The answer is 12.",
            "I cannot tell.",
        )
    ]
    assert answers == ["7", "7", "12", "no answer"]
    assert equal_answer_clusters(answers).ids == [0, 0, 1, 2]
    assert equal_answer_clusters(answers).nli_calls == 0
    # only math prompts reason, and only when asked to
    cot = SamplingConfig(reasoning_tokens=256)
    assert "step by step" in messages_for("gsm8k_train", "Q?", cot)[0]["content"]
    assert "step by step" not in messages_for("gsm8k_train", "Q?", SamplingConfig())[0]["content"]
    assert "step by step" not in messages_for("nq_open", "Q?", cot)[0]["content"]


@pytest.mark.llm
@pytest.mark.slow
def test_labels_se_with_reasoning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install_model("smollm2")
    out = tmp_path / "gsm8k.parquet"
    args = ["labels", "se", "--prompts", "gsm8k_train", "--limit", "2", "--samples", "3"]
    args += ["--weak", "smollm2", "--strong", "server:smollm2", "--reasoning-tokens", "48"]
    args += ["--out", str(out), "--llm-cache", str(tmp_path / "c.sqlite")]
    try:
        assert main(args) == 0
    finally:
        stop_all_servers()
    assert json.loads(capsys.readouterr().out)["nli_calls"] == 0
    se, meta = read_label_file(out)
    assert meta["reasoning_tokens"] == 48 and len(se) == 2
    for row in se.itertuples():
        # stored samples are the final numbers the clusters compare
        assert all(s == "no answer" or s.replace(".", "").lstrip("-").isdigit()
                   for s in row.samples_a)
        assert list(row.cluster_ids_a) == equal_answer_clusters(list(row.samples_a)).ids
        assert row.se_discrete_a == pytest.approx(
            discrete_semantic_entropy(list(row.cluster_ids_a))
        )
        assert len(str(row.response_a)) > 20  # the greedy answer is the whole solution
    assert np.isfinite(se["se_a"]).all()
    from harness.labels.se.validity import decoding_summary

    assert "clustered by their final number" in decoding_summary(meta, {"gsm8k_train"})
    # a file made with reasoning is not continued without it
    capsys.readouterr()
    plain = [a for a in args if a not in ("--reasoning-tokens", "48")]
    assert main(plain) == 2
    assert "reasoning_tokens: 48 there, 0 now" in capsys.readouterr().err


@pytest.mark.llm
@pytest.mark.slow
def test_an_interrupted_label_run_stops_mid_prompt(tmp_path: Path) -> None:
    # Ctrl-C (here raised by the row callback after prompt 1) must not wait for the prompt
    # the generators are on: both models' batches stop at their next step, and only
    # prompt 1's answers are in the cache.
    import dataclasses

    import pandas as pd

    from harness.labels.se.nli import make_nli
    from harness.labels.se.pipeline import run_se_pipeline
    from harness.llm import LLMCache, LLMClient, local_endpoint
    from harness.paths import data_dir
    from harness.training_data import paper_mix

    install_model("smollm2")
    prompts: pd.DataFrame = paper_mix(2, seed=0, datasets=("gsm8k_train",), data_dir=data_dir())
    cache = LLMCache(tmp_path / "c.sqlite")
    weak = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    # the same model under another name: its own cache keys, as a second model has
    other = dataclasses.replace(local_endpoint("smollm2"), name="smollm2-b")
    strong = LLMClient(other, cache=cache, n_threads=1)

    def interrupt(row: dict[str, object]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_se_pipeline(
            prompts,
            weak=weak,
            strong=strong,
            nli=make_nli("embedding:0.85"),
            sampling=SamplingConfig(k=3, reasoning_tokens=1500),
            progress=False,
            on_row=interrupt,
        )
    assert len(cache) == 8  # prompt 1: a greedy answer and 3 samples per model
