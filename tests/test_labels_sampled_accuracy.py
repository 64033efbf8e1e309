"""Sampled-accuracy labels: the control for SE labels, graded from the same label file's samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from harness.errors import ConfigError, DataError
from harness.labels.sampled_accuracy import SampledAccuracyLabels, correct_probability
from harness.labels.se.store import COMMITTED_SETS


def test_correct_probability_weights_the_correct_samples() -> None:
    correct = np.array([True, False, True, False])
    lls = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    # likelihood weights are the samples' normalised likelihoods: 0.4 + 0.2
    assert correct_probability(correct, lls) == pytest.approx(0.6)
    # unnormalised log-likelihoods give the same weights
    assert correct_probability(correct, lls - 3.0) == pytest.approx(0.6)
    assert correct_probability(correct, lls, "uniform") == pytest.approx(0.5)
    assert correct_probability(np.zeros(4, bool), lls) == 0.0
    assert correct_probability(np.ones(4, bool), lls) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weighting"):
        correct_probability(correct, lls, "softmax")


def test_on_the_mmlu_letter_set_it_is_the_probability_of_the_gold_letter(data_dir: Path) -> None:
    from harness.training_data import load_dataset

    labels = SampledAccuracyLabels(path="mmlu_train").load(data_dir)
    records = labels.records
    table = pd.read_parquet(COMMITTED_SETS["mmlu_train"]).set_index("row_id")
    gold = load_dataset("mmlu_train", data_dir).set_index("row_id")["answers"]
    for _, rec in records.head(20).iterrows():
        row_id = rec["id"].split(":", 1)[1]
        for side in ("a", "b"):
            ll = np.asarray(table.at[row_id, f"sample_ll_{side}"], float)
            p = np.exp(ll - ll.max())
            p /= p.sum()
            letters = list(table.at[row_id, f"samples_{side}"])
            expected = sum(pi for s, pi in zip(letters, p, strict=True) if s in gold[row_id])
            assert rec[f"p_correct_{side}"] == pytest.approx(expected)
    # half the prompts strong, those with the larger P_strong − P_weak; no ties
    gap = records["p_correct_b"] - records["p_correct_a"]
    strong = records["winner_model_b"] == 1
    assert strong.sum() == len(records) // 2
    assert gap[strong].min() > gap[~strong].max()
    assert (records["winner_tie"] == 0).all()
    assert labels.meta["label_file_sha256"] and labels.meta["weighting"] == "likelihood"
    # The weak 0.5B model is at chance on these letters: what makes its greedy label noisy.
    assert 0.2 < labels.meta["weak_p_correct"] < 0.3


def test_uniform_weights_on_a_letter_set_are_refused(data_dir: Path) -> None:
    # every letter is "sampled" once, so P(correct) = 1/4 for both models on every prompt
    with pytest.raises(ConfigError, match="weighting='likelihood'"):
        SampledAccuracyLabels(path="mmlu_train", weighting="uniform").load(data_dir)


def test_uniform_weights_count_the_correct_samples(data_dir: Path) -> None:
    from harness.labels.grading import number_match
    from harness.training_data import load_dataset

    records = SampledAccuracyLabels(path="gsm8k_train", weighting="uniform").load(data_dir).records
    table = pd.read_parquet(COMMITTED_SETS["gsm8k_train"]).set_index("row_id")
    gold = load_dataset("gsm8k_train", data_dir).set_index("row_id")["answers"]
    for _, rec in records.head(15).iterrows():
        row_id = rec["id"].split(":", 1)[1]
        samples = table.at[row_id, "samples_b"]
        share = np.mean([number_match(str(s), gold[row_id][0]) for s in samples])
        assert rec["p_correct_b"] == pytest.approx(share)


def test_a_label_file_without_samples_is_one_clear_error(tmp_path: Path, data_dir: Path) -> None:
    table = pq.read_table(COMMITTED_SETS["mmlu_train"])
    keep = [c for c in table.column_names if not c.startswith(("samples_", "sample_ll_"))]
    old = tmp_path / "old_labels.parquet"
    pq.write_table(table.select(keep), old)
    with pytest.raises(DataError, match=r"old_labels\.parquet has no per-sample columns"):
        SampledAccuracyLabels(path=str(old)).load(data_dir)


def test_bad_parameters_are_named() -> None:
    from harness.plugins import check_label_params

    with pytest.raises(ConfigError, match="strong_share"):
        check_label_params("sampled_accuracy", {"strong_share": 1.5}, "study x")
    with pytest.raises(ConfigError, match="weighting"):
        check_label_params("sampled_accuracy", {"weighting": "softmax"}, "study x")
