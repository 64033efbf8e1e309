"""Accuracy labels graded from a responses file against the real training data's gold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import ConfigError, DataError
from harness.labels.accuracy import AccuracyLabels, read_responses
from harness.plugins import LABEL_SOURCES
from harness.training_data import load_gsm8k_test, load_nq_open, prompt_sha256

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def _gsm8k_responses(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RouteLLM's GSM8K answers in the long responses schema, and RouteLLM's booleans."""
    wide = pd.read_csv(data_dir / "routellm/gsm8k/gsm8k_responses.csv")
    gold = load_gsm8k_test(data_dir)
    row_of = dict(zip(gold["prompt"], gold["row_id"], strict=True))
    rows = []
    for prompt, w, s in zip(wide["prompt"], wide[f"{WEAK}_response"],
                            wide[f"{STRONG}_response"], strict=True):
        for model, response in ((WEAK, w), (STRONG, s)):
            rows.append({"dataset": "gsm8k_test", "row_id": row_of[prompt],
                         "prompt_sha256": prompt_sha256(prompt), "model": model,
                         "response": response})
    truth = pd.DataFrame({"row_id": [row_of[p] for p in wide["prompt"]],
                          "weak": wide[WEAK].astype(bool), "strong": wide[STRONG].astype(bool)})
    return pd.DataFrame(rows), truth


def test_gsm8k_labels_match_routellm_correctness(data_dir: Path, tmp_path: Path) -> None:
    responses, truth = _gsm8k_responses(data_dir)
    path = tmp_path / "responses.parquet"
    responses.to_parquet(path)
    labels = AccuracyLabels(responses=str(path), weak_model=WEAK, strong_model=STRONG).load(
        data_dir
    )
    r = labels.records
    assert len(r) == 1319
    assert (r["model_a"] == WEAK).all() and (r["model_b"] == STRONG).all()
    one_hot = r[["winner_model_a", "winner_model_b", "winner_tie"]].sum(axis=1)
    assert (one_hot == 1).all()
    merged = r.merge(truth, on="row_id")
    assert (merged["correct_a"] == merged["weak"]).mean() > 0.985
    assert (merged["correct_b"] == merged["strong"]).mean() > 0.96
    # the label rule: the correct model wins, both right or both wrong is a tie
    both = merged["correct_a"] == merged["correct_b"]
    assert (merged.loc[both, "winner_tie"] == 1).all()
    assert (merged.loc[merged["correct_b"] & ~merged["correct_a"], "winner_model_b"] == 1).all()
    _, y = labels.targets()
    assert set(np.unique(y)) <= {0.0, 0.5, 1.0}
    assert labels.meta["strong_accuracy"] > labels.meta["weak_accuracy"]


def test_registered_and_model_names_from_sidecar(data_dir: Path, tmp_path: Path) -> None:
    nq = load_nq_open(data_dir).head(20)
    rows = []
    for i, (row_id, prompt, answers) in enumerate(
        zip(nq["row_id"], nq["prompt"], nq["answers"], strict=True)
    ):
        right, wrong = f"I think it is {answers[0]}.", "no idea"
        sha = prompt_sha256(str(prompt))
        rows.append(("nq_open", row_id, sha, "small", right if i < 5 else wrong))
        rows.append(("nq_open", row_id, sha, "big", right))
    path = tmp_path / "answers.csv"
    pd.DataFrame(rows, columns=["dataset", "row_id", "prompt_sha256", "model", "response"]).to_csv(
        path, index=False
    )
    path.with_suffix(".json").write_text(json.dumps({"weak_model": "small",
                                                     "strong_model": "big"}))
    labels = LABEL_SOURCES.get("accuracy")(responses=str(path)).load(data_dir)
    assert labels.records["winner_tie"].sum() == 5
    assert labels.records["winner_model_b"].sum() == 15
    assert labels.records["prompt"].tolist() == nq["prompt"].tolist()


def _write(tmp_path: Path, rows: list[tuple], name: str = "r.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows, columns=["dataset", "row_id", "prompt_sha256", "model", "response"]).to_csv(
        path, index=False
    )
    return path


def test_errors_name_the_file_and_the_fix(data_dir: Path, tmp_path: Path) -> None:
    first = load_nq_open(data_dir).head(1)
    row_id, sha = str(first["row_id"].iloc[0]), prompt_sha256(str(first["prompt"].iloc[0]))
    good = [("nq_open", row_id, sha, "w", "x"), ("nq_open", row_id, sha, "s", "y")]

    with pytest.raises(DataError, match="does not exist"):
        read_responses(tmp_path / "nope.parquet")
    bad_cols = tmp_path / "bad.csv"
    pd.DataFrame({"dataset": ["nq_open"]}).to_csv(bad_cols, index=False)
    with pytest.raises(DataError, match="lacks columns"):
        AccuracyLabels(responses=str(bad_cols), weak_model="w", strong_model="s").load(data_dir)
    path = _write(tmp_path, good)
    with pytest.raises(ConfigError, match="weak_model= and strong_model="):
        AccuracyLabels(responses=str(path)).load(data_dir)
    with pytest.raises(ConfigError, match="no responses"):
        AccuracyLabels(responses=str(path), weak_model="w", strong_model="gpt").load(data_dir)
    stale = _write(tmp_path, [(d, r, "0" * 64, m, x) for d, r, _, m, x in good], "stale.csv")
    with pytest.raises(DataError, match="prompt_sha256"):
        AccuracyLabels(responses=str(stale), weak_model="w", strong_model="s").load(data_dir)
    dup = _write(tmp_path, [*good, good[0]], "dup.csv")
    with pytest.raises(DataError, match="duplicate"):
        AccuracyLabels(responses=str(dup), weak_model="w", strong_model="s").load(data_dir)
    unknown = _write(tmp_path, [("nq_open", "999999", sha, "w", "x"),
                                ("nq_open", "999999", sha, "s", "y")], "unknown.csv")
    with pytest.raises(DataError, match="training data lacks"):
        AccuracyLabels(responses=str(unknown), weak_model="w", strong_model="s").load(data_dir)


def test_model_names_from_parquet_metadata_of_the_se_run(data_dir: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    responses, _ = _gsm8k_responses(data_dir)
    table = pa.Table.from_pandas(responses.head(40), preserve_index=False)
    meta = {b"routerlab": json.dumps({"weak": WEAK, "strong": STRONG, "k": 10}).encode()}
    path = tmp_path / "default_responses.parquet"
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), path)
    labels = AccuracyLabels(responses=str(path)).load(data_dir)
    assert labels.meta["weak_model"] == WEAK and labels.meta["strong_model"] == STRONG
    assert len(labels.records) == 20
