"""Arena labels: the offline MT-Bench human votes and the Chatbot Arena / Kaggle schemas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.errors import ConfigError, DataError
from harness.labels.arena import ArenaLabels
from harness.plugins import LABEL_SOURCES


def test_offline_default_is_mt_bench_human_votes(data_dir: Path) -> None:
    labels = LABEL_SOURCES.get("arena")().load(data_dir)
    r = labels.records
    assert len(r) == 1689
    assert labels.strong_models == {"gpt-4", "claude-v1"}
    assert labels.weak_models == {"gpt-3.5-turbo", "vicuna-13b-v1.2", "alpaca-13b", "llama-13b"}
    questions = pd.read_json(data_dir / "routellm/mt_bench/question.jsonl", lines=True)
    turn1 = {str(q): t[0] for q, t in zip(questions["question_id"], questions["turns"],
                                           strict=True)}
    assert set(r["group"]) == set(turn1)
    assert all(p == turn1[g] for p, g in zip(r["prompt"], r["group"], strict=True))
    assert (r[["winner_model_a", "winner_model_b", "winner_tie"]].sum(axis=1) == 1).all()
    assert r["winner_tie"].sum() == 405
    kept, y = labels.targets()
    assert len(kept) == 818 == labels.meta["n_cross_tier"]
    # every kept row pits a strong-tier model against a weak-tier one
    a_strong = kept["model_a"].isin(labels.strong_models)
    assert (a_strong != kept["model_b"].isin(labels.strong_models)).all()
    # spot check: first vote is claude-v1 (strong, model_a) beating alpaca-13b
    row = kept[(kept["model_a"] == "claude-v1") & (kept["model_b"] == "alpaca-13b")].iloc[0]
    assert y[row.name] == 1.0


def test_tiers_are_configurable(data_dir: Path) -> None:
    labels = ArenaLabels(strong_models=("gpt-4",), weak_models=("llama-13b",)).load(data_dir)
    kept, _ = labels.targets()
    assert set(kept["model_a"]) | set(kept["model_b"]) == {"gpt-4", "llama-13b"}
    with pytest.raises(ConfigError, match="both the strong and weak"):
        ArenaLabels(strong_models=("gpt-4",), weak_models=("gpt-4",)).load(data_dir)
    with pytest.raises(ConfigError, match="no strong-tier model"):
        ArenaLabels(strong_models=("gpt-5",)).load(data_dir)


def test_chatbot_arena_conversations_schema(data_dir: Path, tmp_path: Path) -> None:
    def conv(q: str, a: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": q}, {"role": "assistant", "content": a}]

    rows = [
        {"question_id": "q1", "model_a": "gpt-4", "model_b": "vicuna-13b", "winner": "model_a",
         "conversation_a": conv("What is 2+2?", "4"), "conversation_b": conv("What is 2+2?", "5"),
         "turn": 1},
        {"question_id": "q2", "model_a": "vicuna-13b", "model_b": "gpt-4",
         "winner": "tie (bothbad)", "conversation_a": conv("Hi", "Hey"),
         "conversation_b": conv("Hi", "Hello"), "turn": 1},
        {"question_id": "q3", "model_a": "vicuna-13b", "model_b": "gpt-4", "winner": "model_a",
         "conversation_a": conv("Multi", "x"), "conversation_b": conv("Multi", "y"), "turn": 2},
    ]
    path = tmp_path / "arena.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    labels = ArenaLabels(path=str(path)).load(data_dir)
    r = labels.records
    assert r["prompt"].tolist() == ["What is 2+2?", "Hi"]  # turn-2 vote dropped
    assert r["response_b"].tolist() == ["5", "Hello"]
    assert r["group"].tolist() == ["q1", "q2"]
    _, y = labels.targets()
    assert y.tolist() == [1.0, 0.5]


def test_kaggle_55k_schema(data_dir: Path, tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "id": [10, 11, 12],
            "model_a": ["gpt-4-0613", "llama-2-13b-chat", "gpt-4-0613"],
            "model_b": ["llama-2-13b-chat", "gpt-4-0613", "claude-2.0"],
            "prompt": [json.dumps(["Explain X", "more"]), json.dumps(["Explain X"]),
                       json.dumps(["Y?"])],
            "response_a": [json.dumps(["a1", "a2"]), json.dumps(["b1"]), json.dumps(["c1"])],
            "response_b": [json.dumps(["d1", "d2"]), json.dumps(["e1"]), json.dumps(["f1"])],
            "winner_model_a": [0, 1, 0],
            "winner_model_b": [1, 0, 0],
            "winner_tie": [0, 0, 1],
        }
    )
    path = tmp_path / "train.csv"
    table.to_csv(path, index=False)
    labels = ArenaLabels(path=str(path), strong_models=("gpt-4-0613",)).load(data_dir)
    r = labels.records
    assert r["prompt"].tolist() == ["Explain X", "Explain X", "Y?"]
    assert r["response_a"].tolist() == ["a1", "b1", "c1"]
    assert r["group"][0] == r["group"][1] != r["group"][2]  # same prompt, same fold
    kept, y = labels.targets()
    assert y.tolist() == [0.0, 0.0, 0.5]


def test_bad_inputs_fail_with_one_clear_error(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question_id": 81, "model_a": "gpt-4", "model_b": "llama-13b",
                               "winner": "model_c"}) + "\n")
    with pytest.raises(DataError, match="winner"):
        ArenaLabels(path=str(bad)).load(data_dir)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(DataError, match="not an arena votes table"):
        ArenaLabels(path=str(other)).load(data_dir)
    with pytest.raises(DataError, match="does not exist"):
        ArenaLabels(path=str(tmp_path / "missing.jsonl")).load(data_dir)


def test_hub_dataset_offline_is_a_config_error(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        ArenaLabels(hub_dataset="lmsys/chatbot_arena_conversations").load(data_dir)


def test_ties_count_for_both_sides_in_targets(data_dir: Path) -> None:
    _, y = ArenaLabels().load(data_dir).targets()
    assert np.isclose((y == 0.5).sum(), 184)
