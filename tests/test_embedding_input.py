"""Prompts sharing a long few-shot prefix, list-valued parameters, named systems: a new
user's benchmark that is not like the built-in ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.benchmarks import load_benchmark
from harness.embedding_input import embedding_texts, shared_prefix
from harness.embeddings import embed, truncated_count
from harness.params import coerce_list_params
from harness.pipeline import load_labels
from routerlab.cli import main

# ~300 word pieces of few-shot examples before every question (MiniLM reads 256).
FEW_SHOT = "".join(
    f"Example {i}: Question: which of these is a prime number, {i * 6 + 4}, {i * 6 + 9}, "
    f"{i * 10 + 7} or {i * 4 + 8}? Answer: {i * 10 + 7} is prime because it has no divisor "
    f"other than one and itself. " for i in range(10)
)
_TOPICS = ["volcanoes", "the French revolution", "photosynthesis", "jazz harmony",
           "tax law", "sorting algorithms", "the immune system", "medieval castles"]


OTHER_SHOT = "".join(
    f"Demo {i}: translate the sentence 'the cat number {i} sleeps on the warm roof' into "
    f"French, then count its words and give the count as digits. " for i in range(12)
)


def few_shot_benchmark(path: Path, n: int = 40, other: bool = False) -> Path:
    prefix, ask = (OTHER_SHOT, "Task {i}: write a quiz about {topic}, level {j}.") if other \
        else (FEW_SHOT, "Now the real question {i}: explain {topic} in detail, part {j}.")
    rows = [{"id": f"q{i}", "prompt": prefix + ask.format(i=i, topic=_TOPICS[i % 8], j=i // 8),
             "weak": i % 3 == 0, "strong": i % 2 == 0 or i % 3 == 0} for i in range(n)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_truncation_answers_are_kept_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import embeddings
    from harness.embeddings import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    texts = [*load_benchmark(str(few_shot_benchmark(tmp_path / "f.csv", n=6))).prompts, "short"]
    monkeypatch.setattr(embeddings, "_TRUNCATED", {})
    assert truncated_count(texts, cache=cache) == 6  # tokenized once, answers stored
    # A new process (empty memo) reads the answers from the cache: no tokenizer is loaded.
    monkeypatch.setattr(embeddings, "_TRUNCATED", {})

    def no_tokenizer(model: str) -> None:
        raise AssertionError("the tokenizer was loaded although every answer is on disk")

    monkeypatch.setattr(embeddings, "_tokenizer", no_tokenizer)
    assert truncated_count([*texts, texts[0]], cache=cache) == 7  # duplicates count twice
    # another cache file knows nothing yet: it must tokenize
    monkeypatch.setattr(embeddings, "_TRUNCATED", {})
    with pytest.raises(AssertionError, match="tokenizer was loaded"):
        truncated_count(texts, cache=EmbeddingCache(tmp_path / "other.sqlite"))


def test_a_shared_few_shot_prefix_is_stripped_so_prompts_embed_apart(tmp_path: Path) -> None:
    bench = load_benchmark(str(few_shot_benchmark(tmp_path / "fewshot.csv")))
    assert truncated_count(bench.prompts) == len(bench)  # every prompt is cut at 256 pieces
    full = embed(embedding_texts(bench.prompts, "full"), show_progress=False)
    assert np.allclose(full, full[0], atol=1e-6)  # all the same: the model saw the prefix only
    auto = embedding_texts(bench.prompts, "auto")
    assert len(shared_prefix(bench.prompts)) > 1000
    assert all("Example" not in t and "explain" in t for t in auto)
    X = embed(auto, show_progress=False)
    sims = X @ X.T
    assert sims[~np.eye(len(X), dtype=bool)].max() < 0.999  # distinct embeddings
    assert truncated_count(auto) == 0
    tail = embedding_texts(bench.prompts, "tail", tail_words=20)
    assert all(len(t.split()) == 20 for t in tail)
    # no shared prefix worth stripping: the texts stay as they are (built-in benchmarks)
    assert embedding_texts(["What is 2+2?", "What is 3+3?"], "auto") == [
        "What is 2+2?", "What is 3+3?"]


def test_constant_scores_are_flagged_not_given_a_ci(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(few_shot_benchmark(tmp_path / "fewshot.csv"))
    # trained on another file's outcomes, whose prompts open with other few-shot examples
    other = str(few_shot_benchmark(tmp_path / "other.csv", other=True))
    args = ["evaluate", "--benchmark", path, "--router", "knn", "--labels", "outcomes",
            "--label-param", f"benchmarks={other}", "--router-param", "k=5",
            "--n-boot", "100", "--no-mlflow"]
    assert main([*args, "--embedding-input", "full", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["constant_scores"] == 1
    assert result["cpt_50_lo"] is None and result["cpt_50_hi"] is None  # no CI
    assert "beats_random_50" not in result
    assert main([*args, "--embedding-input", "full"]) == 0
    assert "scores are constant" in capsys.readouterr().out
    # the default strategy embeds the questions: the router learns, scores vary
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["constant_scores"] == 0 and result["cpt_50_lo"] is not None


def test_list_valued_parameters_are_split_at_commas_not_into_characters(
    data_dir: Path,
) -> None:
    from harness.labels.arena import ArenaLabels

    assert coerce_list_params(ArenaLabels, {"strong_models": "gpt-4"}) == {
        "strong_models": ("gpt-4",)}
    assert coerce_list_params(ArenaLabels, {"strong_models": "gpt-4, claude-v1"}) == {
        "strong_models": ("gpt-4", "claude-v1")}
    assert coerce_list_params(ArenaLabels, {"split": "train"}) == {"split": "train"}
    labels = load_labels("arena", {"strong_models": "gpt-4"}, data_dir)
    assert labels.strong_models == frozenset({"gpt-4"})


def test_plugins_lists_the_named_systems(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "named systems" in out and "confidence-knn" in out and "to-router-mlp" in out
    assert main(["plugins", "--json"]) == 0
    assert "routellm-sw" in json.loads(capsys.readouterr().out)["systems"]


def test_a_file_with_many_models_picks_columns_and_counts_dropped_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "many.csv"
    pd.DataFrame({
        "prompt": [f"Question {i} about {_TOPICS[i % 8]}?" for i in range(30)],
        "gpt-4": [i % 2 == 0 for i in range(30)],
        "mixtral": [None if i % 10 == 0 else i % 3 == 0 for i in range(30)],
        "llama": [True] * 30,
    }).to_csv(path, index=False)
    with pytest.raises(Exception, match="drop-missing"):
        load_benchmark(str(path), weak_column="mixtral", strong_column="gpt-4")
    bench = load_benchmark(str(path), weak_column="mixtral", strong_column="gpt-4",
                           drop_missing=True)
    assert len(bench) == 27 and bench.meta["dropped_missing_outcomes"] == 3
    assert (bench.weak_model, bench.strong_model) == ("mixtral", "gpt-4")
    with pytest.raises(Exception, match="no outcome column 'gpt4'.*gpt-4, mixtral, llama"):
        load_benchmark(str(path), weak_column="mixtral", strong_column="gpt4")
    assert main(["evaluate", "--benchmark", str(path), "--weak-column", "mixtral",
                 "--strong-column", "gpt-4", "--drop-missing", "--n-boot", "50",
                 "--no-mlflow", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["n"] == 27 and result["dropped_missing_outcomes"] == 3


def test_truncation_is_warned_once_per_benchmark_not_per_router(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from harness.pipeline import router_scores

    path = str(few_shot_benchmark(tmp_path / "warned.csv", n=24))
    other = str(few_shot_benchmark(tmp_path / "warned_other.csv", n=24, other=True))
    bench = load_benchmark(path)
    with caplog.at_level("WARNING", logger="harness.pipeline"):
        for k in (3, 5):  # a study scores one benchmark with many routers
            router_scores("knn", {"k": k}, "outcomes", {"benchmarks": other}, bench,
                          embedding_input="full", decontaminate=None, show_progress=False)
    cut = [r.getMessage() for r in caplog.records if "longer than" in r.getMessage()]
    assert cut == [
        f"24 of 24 {bench.name} prompts (100%) are longer than all-MiniLM-L6-v2 reads and "
        "were cut to their opening; embedding_input=tail embeds their ends instead",
        "24 of 24 training (outcomes) prompts (100%) are longer than all-MiniLM-L6-v2 reads "
        "and were cut to their opening; embedding_input=tail embeds their ends instead",
    ]
