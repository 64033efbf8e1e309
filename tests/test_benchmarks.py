"""RouteLLM benchmarks (sizes and scores after decontamination) and custom benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import data as data_files
from harness.benchmarks import load_benchmark, load_custom_benchmark
from harness.benchmarks.routellm import STRONG_MODEL, WEAK_MODEL, load_mt_bench_turns
from harness.errors import ConfigError, DataError

EXPECTED = {
    # name: (prompts, weak, strong, dropped, rounding digits); RouteLLM's published figures
    "gsm8k": (1307, 63.73, 85.77, 12, 2),
    "mmlu": (14037, 68.09, 80.59, 5, 2),
    "mt_bench": (72, 8.281, 9.212, 8, 3),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_routellm_benchmark_sizes_and_scores(name: str, data_dir: Path) -> None:
    n, weak, strong, dropped, digits = EXPECTED[name]
    b = load_benchmark(name, data_dir)
    scale = 1.0 if name == "mt_bench" else 100.0
    assert len(b) == n == len(b.prompt_ids) == len(b.weak_score) == len(b.strong_score)
    assert round(scale * b.weak_score.mean(), digits) == weak
    assert round(scale * b.strong_score.mean(), digits) == strong
    assert b.dropped_contaminated == dropped
    assert (b.weak_model, b.strong_model) == (WEAK_MODEL, STRONG_MODEL)
    assert len(set(b.prompt_ids)) == n
    # Every file read is recorded with its manifest sha256.
    assert b.source_sha256
    for rel, digest in b.source_sha256.items():
        assert data_files.manifest()[rel].sha256 == digest
        assert data_files.sha256_file(data_dir / rel) == digest


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_contaminated_prompt_left(name: str, data_dir: Path) -> None:
    b = load_benchmark(name, data_dir)
    listed = pd.read_json(
        data_dir / f"routellm/{name}/contaminated_prompts.jsonl", lines=True
    )["eval_prompt"]
    assert not set(listed) & set(b.prompts)


def test_mmlu_reads_all_57_subjects(data_dir: Path) -> None:
    b = load_benchmark("mmlu", data_dir)
    assert b.groups is not None and len(set(b.groups)) == 57
    assert len(b.source_sha256) == 58  # 57 subjects + the contamination list


def test_gsm8k_keeps_responses(data_dir: Path) -> None:
    b = load_benchmark("gsm8k", data_dir)
    assert b.weak_response is not None and b.strong_response is not None
    assert len(b.weak_response) == len(b) == len(b.strong_response)
    assert all(r.strip() for r in b.strong_response[:50])


def test_mt_bench_turns_and_responses(data_dir: Path) -> None:
    b = load_benchmark("mt_bench", data_dir)
    assert b.groups == b.prompt_ids
    assert b.weak_response is not None and all(r.strip() for r in b.weak_response)
    assert b.strong_response is not None and all(r.strip() for r in b.strong_response)
    turns = load_mt_bench_turns(data_dir)
    assert len(turns) == 72 * 2 * 2
    assert (turns["response"].str.len() > 0).all()
    by_model = turns.groupby("model")["score"].mean()
    assert by_model[WEAK_MODEL] == pytest.approx(b.weak_score.mean())
    assert by_model[STRONG_MODEL] == pytest.approx(b.strong_score.mean())
    first = turns[(turns["turn"] == 1) & (turns["model"] == WEAK_MODEL)]
    assert first.set_index("prompt_id").loc[b.prompt_ids[0], "response"] == b.weak_response[0]
    assert first.set_index("prompt_id").loc[b.prompt_ids[0], "prompt"] == b.prompts[0]


def test_unknown_benchmark_name() -> None:
    with pytest.raises(ConfigError, match="gsm8k"):
        load_benchmark("gsm8")


def test_missing_data_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="routerlab data fetch"):
        load_benchmark("gsm8k", tmp_path)


# -- custom benchmark files ------------------------------------------------------------------------

ROWS = [
    {"id": "a", "prompt": "What is 2+2?", "weak": True, "strong": True, "weak_response": "4"},
    {"id": "b", "prompt": "Prove it.", "weak": False, "strong": True, "weak_response": None},
    {"id": "c", "prompt": "NA", "weak": False, "strong": False, "weak_response": "no"},
]


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_custom_benchmark_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write(pd.DataFrame(ROWS), tmp_path / f"mine{suffix}")
    b = load_benchmark(str(path))
    assert b.name == "mine"
    assert b.prompt_ids == ["a", "b", "c"]
    assert b.prompts == ["What is 2+2?", "Prove it.", "NA"]
    np.testing.assert_array_equal(b.weak_score, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(b.strong_score, [1.0, 1.0, 0.0])
    assert b.weak_response == ["4", "", "no"]
    assert b.strong_response is None
    assert (b.weak_model, b.strong_model) == ("weak", "strong")
    assert b.source_sha256 == {path.name: data_files.sha256_file(path)}


def test_custom_numeric_outcomes_costs_and_model_names(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "prompt": ["p1", "p2"], "weak": [7.5, 3], "strong": [9, 8.5],
        "weak_cost": [0.001, 0.002], "strong_cost": [0.01, 0.02],
        "weak_model": ["small-1"] * 2, "strong_model": ["big-1"] * 2,
    })
    path = write(df, tmp_path / "judged.csv")
    b = load_custom_benchmark(path)
    np.testing.assert_allclose(b.weak_score, [7.5, 3.0])
    assert b.weak_cost is not None and b.weak_cost.tolist() == [0.001, 0.002]
    assert (b.weak_model, b.strong_model) == ("small-1", "big-1")
    assert b.prompt_ids == ["0", "1"]
    b2 = load_benchmark(path, weak_model="w", strong_model="s")
    assert (b2.weak_model, b2.strong_model) == ("w", "s")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("prompt,weak\nq,1\n", "missing column.*'strong'"),
        ("prompt,weak,strong\nq1,1,\nq2,0,1\n", "'strong' is empty at row 0"),
        ("prompt,weak,strong\nq1,1,0\nq1,0,1\n", "repeats the same text at rows \\[0, 1\\]"),
        ("prompt,weak,strong\n", "no rows"),
        ("", "empty"),
        ("prompt,weak,strong\nq1,yes,1\n", "'weak' row 0 is 'yes'"),
        ("prompt,weak,strong\n,1,1\n", "'prompt' is empty at row 0"),
        ("id,prompt,weak,strong\nx,q1,1,1\nx,q2,1,0\n", "'id' is empty or repeated"),
        ("prompt,weak,strong,weak_cost\nq1,1,1,-2\n", "'weak_cost' row 0"),
    ],
)
def test_custom_benchmark_errors(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as info:
        load_benchmark(str(path))
    assert str(path) in str(info.value)


def test_custom_nan_outcome_in_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = [
        {"prompt": "a", "weak": 1.0, "strong": None},
        {"prompt": "b", "weak": 0.0, "strong": 1.0},
    ]
    jl = tmp_path / "x.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match="'strong' is empty at row 0"):
        load_benchmark(str(jl))
    pq = write(pd.DataFrame({"prompt": ["a", "b"], "weak": [1.0, np.nan], "strong": [1.0, 0.0]}),
               tmp_path / "x.parquet")
    with pytest.raises(DataError, match="'weak' is empty at row 1"):
        load_benchmark(str(pq))


def test_custom_missing_or_unsupported_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_benchmark(str(tmp_path / "nope.csv"))
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(DataError, match="unsupported file type"):
        load_benchmark(str(other))
    garbage = tmp_path / "g.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(DataError, match="cannot be read as parquet"):
        load_benchmark(str(garbage))
