"""Training-prompt loaders on the real data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import DataError
from harness.training_data import (
    COLUMNS,
    load_dataset,
    load_popqa,
    mix_counts,
    paper_mix,
    prompt_sha256,
)


@pytest.mark.parametrize(
    ("name", "rows", "first_answer"),
    [
        ("nq_open", 3610, "14 December 1972 UTC"),
        ("triviaqa", 2000, "(Harry) Sinclair Lewis"),
        ("mawps", 2373, "504"),
        ("gsm8k_train", 7473, "72"),
        ("gsm8k_test", 1319, "18"),
    ],
)
def test_loaders(data_dir: Path, name: str, rows: int, first_answer: str) -> None:
    frame = load_dataset(name, data_dir)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == rows
    assert frame["row_id"].is_unique
    assert frame["answers"].iloc[0][0] == first_answer
    assert all(isinstance(p, str) and p for p in frame["prompt"])


def test_paper_mix_proportions_and_growth(data_dir: Path) -> None:
    small = paper_mix(500, seed=0, data_dir=data_dir)
    assert small["dataset"].value_counts().to_dict() == {
        "nq_open": 209,
        "triviaqa": 209,
        "mawps": 82,
    }
    big = paper_mix(1000, seed=0, data_dir=data_dir)
    keys = set(zip(small["dataset"], small["row_id"], strict=True))
    assert keys <= set(zip(big["dataset"], big["row_id"], strict=True))
    other = paper_mix(500, seed=1, data_dir=data_dir)
    assert keys != set(zip(other["dataset"], other["row_id"], strict=True))
    # interleaved: the first rows already hold every dataset
    assert set(small["dataset"].iloc[:10]) == {"nq_open", "triviaqa", "mawps"}


def test_mix_counts_with_popqa_and_caps() -> None:
    # 3 x 3,610 + 1,418 = 12,248 (the paper rounds its total to 12,247)
    assert mix_counts(12248, ["nq_open", "triviaqa", "popqa", "mawps"]) == {
        "nq_open": 3610,
        "triviaqa": 3610,
        "popqa": 3610,
        "mawps": 1418,
    }
    assert mix_counts(9000, ["nq_open", "triviaqa"], {"nq_open": 3610, "triviaqa": 2000}) == {
        "nq_open": 3610,
        "triviaqa": 2000,
    }


def test_missing_file_names_it_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"NQ-open\.dev\.jsonl.*routerlab data fetch"):
        load_dataset("nq_open", tmp_path)
    with pytest.raises(DataError, match="unknown training dataset"):
        load_dataset("nope", tmp_path)


def test_popqa_from_a_path(tmp_path: Path) -> None:
    tsv = tmp_path / "popQA.tsv"
    tsv.write_text('id\tquestion\tpossible_answers\n7\tWho?\t["A", "B"]\n', encoding="utf-8")
    frame = load_popqa(tsv)
    assert frame.iloc[0].to_dict() == {
        "dataset": "popqa",
        "row_id": "7",
        "prompt": "Who?",
        "answers": ["A", "B"],
    }
    with pytest.raises(DataError, match="popQA.tsv"):
        load_popqa(tmp_path / "missing.tsv")


def test_prompt_hash_is_sha256() -> None:
    assert (
        prompt_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
