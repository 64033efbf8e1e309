"""In-domain SE labels on MMLU (``--prompts mmlu_train``): each model's exact letter
distribution from one forward pass, on a real local model (SmolLM2) in process and through
its llama.cpp server; the labels, accuracy labels and validity read the same file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.benchmarks.local_pair import DEFAULT_MMLU_FILE
from harness.benchmarks.mmlu_local import LETTERS, chosen_letter
from harness.data import sha256_file
from harness.errors import DataError
from harness.labels.accuracy import AccuracyLabels
from harness.labels.se.labelling import se_winner_by_share
from harness.labels.se.sampling import choice_request
from harness.labels.se.source import SELabels
from harness.labels.se.store import DEFAULT_LABEL_FILE, read_label_file
from harness.llm.cache import LLMCache
from harness.llm.client import LLMClient
from harness.llm.endpoints import resolve_endpoint
from harness.llm.local import stop_all_servers
from harness.llm.model_pack import install_model
from harness.training_data import load_dataset, mix_counts
from routerlab.cli import main

QUESTION = "What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid\nAnswer:"


@pytest.mark.llm
def test_letter_distribution_is_the_same_in_process_and_through_the_server(
    tmp_path: Path,
) -> None:
    install_model("smollm2")
    cache = LLMCache(tmp_path / "calls.sqlite")
    answers = {}
    try:
        for name in ("smollm2", "server:smollm2"):
            client = LLMClient(
                resolve_endpoint(name, None, n_threads=1), cache=cache, n_threads=1
            )
            answers[name] = client.call(choice_request("mmlu_train", QUESTION))
    finally:
        stop_all_servers()
    for out in answers.values():
        lps = out.choice_logprobs
        assert lps is not None and list(lps) == list(LETTERS)
        assert all(lp < 0 for lp in lps.values())
        # the greedy constrained answer is the likeliest letter
        assert out.text == max(lps, key=lambda c: lps[c])
    local, served = (answers[n].choice_logprobs or {} for n in ("smollm2", "server:smollm2"))
    for letter in LETTERS:
        assert local[letter] == pytest.approx(served[letter], abs=1e-4)


def test_mmlu_train_excludes_the_scored_questions(data_dir: Path) -> None:
    scored = {json.loads(line)["id"] for line in DEFAULT_MMLU_FILE.read_text().splitlines()}
    train = load_dataset("mmlu_train", data_dir)
    assert len(train) == 14_037 - len(scored)
    assert not scored & set(train["row_id"])
    assert {a for answers in train["answers"] for a in answers} == set(LETTERS)


@pytest.mark.llm
@pytest.mark.slow
def test_labels_se_on_mmlu_train(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install_model("smollm2")
    out = tmp_path / "mmlu.parquet"
    args = ["labels", "se", "--prompts", "mmlu_train", "--limit", "3", "--weak", "smollm2"]
    args += ["--strong", "server:smollm2", "--out", str(out)]
    try:
        assert main([*args, "--llm-cache", str(tmp_path / "c.sqlite")]) == 0
    finally:
        stop_all_servers()
    assert json.loads(capsys.readouterr().out)["nli_calls"] == 0  # one letter, one meaning
    se, meta = read_label_file(out)
    assert len(se) == 3 and set(se["dataset"]) == {"mmlu_train"}
    for row in se.itertuples():
        assert list(row.samples_a) == list(LETTERS) and row.n_samples == 4
        p = np.exp(np.asarray(row.sample_ll_a))
        assert 0 < p.sum() <= 1
        assert row.response_a == LETTERS[int(np.argmax(p))]
        # the same weights on both sides (in process, served): the same distribution
        np.testing.assert_allclose(row.sample_ll_a, row.sample_ll_b, atol=1e-4)
    labels = SELabels(path=str(out), se_kind="entropy").load(data_dir)
    q = np.exp(np.stack(se["sample_ll_a"].to_numpy()))
    q /= q.sum(axis=1, keepdims=True)
    entropy = -(q * np.log(q)).sum(axis=1)
    np.testing.assert_allclose(labels.records["se_a"], entropy, rtol=1e-9)
    assert (entropy <= math.log(4) + 1e-12).all()
    # validity reads the same file; its provenance says how the SEs were made
    from harness.labels.se.validity import validate_labels

    report = validate_labels(out, data_dir, n_boot=20)
    assert str(report.meta["decoding"]).startswith("exact letter distributions")
    # accuracy labels grade the same greedy letters against the gold letters
    graded = AccuracyLabels(responses=str(tmp_path / "mmlu_responses.parquet")).load(data_dir)
    gold = load_dataset("mmlu_train", data_dir).set_index("row_id")["answers"]
    for row in graded.records.itertuples():
        right = chosen_letter(row.response_a) in gold[row.row_id]
        assert row.correct_a == right


def test_strong_share_labels_the_largest_gaps_strong() -> None:
    se_weak = np.array([1.0, 1.2, 1.3, 1.35, 1.4, 1.1])
    se_strong = np.array([0.9, 0.5, 1.2, 0.2, 1.3, 1.0])
    # gaps: 0.1, 0.7, 0.1, 1.15, 0.1, 0.1 → eq. 4 at τ = 0 calls all six "strong"
    winner = se_winner_by_share(se_strong, se_weak, 1 / 3)
    assert winner.tolist() == ["weak", "strong", "weak", "strong", "weak", "weak"]
    with pytest.raises(ValueError):
        se_winner_by_share(se_strong, se_weak, 1.0)


def test_strong_share_on_the_committed_set(data_dir: Path) -> None:
    paper = SELabels().load(data_dir)
    balanced = SELabels(strong_share=0.5).load(data_dir)
    counts = balanced.meta["label_counts"]
    n = len(balanced.records)
    assert counts["tie"] == 0 and abs(counts["strong"] - n / 2) <= 1
    assert paper.meta["label_counts"]["strong"] > counts["strong"]  # eq. 4 leans strong
    # the strong half is where the weak model is least certain relative to the strong one
    strong = balanced.records["winner_model_b"] == 1
    gap = balanced.records["se_a"] - balanced.records["se_b"]
    assert gap[strong].min() >= gap[~strong].max()
    assert balanced.meta["strong_share"] == 0.5 and balanced.meta["label_set"] == "default_labels"
    assert balanced.meta["label_file_sha256"] == sha256_file(DEFAULT_LABEL_FILE)


def test_in_domain_datasets_are_labelled_on_their_own() -> None:
    assert mix_counts(5, ["mmlu_train"]) == {"mmlu_train": 5}
    assert mix_counts(4, ["gsm8k_train", "mmlu_train"]) == {"gsm8k_train": 2, "mmlu_train": 2}
    with pytest.raises(DataError, match="cannot be mixed"):
        mix_counts(10, ["nq_open", "mmlu_train"])
