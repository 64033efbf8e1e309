"""labels → embeddings → decontamination → fit → score, on the real data."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from baselines import SYSTEMS, get_system
from harness.benchmarks import load_benchmark
from harness.errors import ConfigError, DataError
from harness.labels.arena import ArenaLabels
from harness.pipeline import ScoredBenchmark, build_router, router_scores
from harness.records import LabelSet
from routers.base import Router
from routers.knn import KNNRouter


class LeakDetector(Router):
    """Scores 1.0 for a query identical to a training prompt, else 0.0."""

    seen: ClassVar[list[int]] = []

    def __init__(self) -> None:
        pass

    def fit(self, X: np.ndarray, y: np.ndarray) -> LeakDetector:
        self.X_ = np.asarray(X)
        LeakDetector.seen.append(len(X))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        return ((np.asarray(X) @ self.X_.T).max(axis=1) > 0.9999).astype(float)


def _label_set(prompts: list[str], y: list[float], groups: list[str] | None = None) -> LabelSet:
    win_b = [1 if v == 1.0 else 0 for v in y]
    win_a = [1 if v == 0.0 else 0 for v in y]
    records = pd.DataFrame({
        "id": [str(i) for i in range(len(prompts))], "model_a": "weak", "model_b": "strong",
        "prompt": prompts, "response_a": "", "response_b": "",
        "winner_model_a": win_a, "winner_model_b": win_b,
        "winner_tie": [1 if v == 0.5 else 0 for v in y],
    })
    if groups is not None:
        records["group"] = groups
    return LabelSet(records, frozenset({"strong"}), frozenset({"weak"}), source="test")


def test_arena_on_mt_bench_is_scored_by_folds_that_never_see_the_question(
    data_dir: Path,
) -> None:
    bench = load_benchmark("mt_bench", data_dir)
    LeakDetector.seen.clear()
    out = router_scores(LeakDetector(), {}, "arena", {}, bench, seed=0, data_dir=data_dir,
                        show_progress=False)
    assert isinstance(out, ScoredBenchmark)
    assert out.info["folds"] == "by_group"
    assert out.info["n_folds"] == 72  # one per benchmark question
    # Every question's prompt is in the arena data, so a router that saw it would say 1.
    assert out.scores.tolist() == [0.0] * len(out.benchmark)
    assert len(LeakDetector.seen) == 72 and max(LeakDetector.seen) < 818
    # Without folds the same router sees every MT-Bench prompt: the check can fail.
    plain = bench.subset(np.ones(len(bench), dtype=bool))
    plain.groups = None
    leaky = router_scores(LeakDetector(), {}, "arena", {}, plain, seed=0, data_dir=data_dir,
                          decontaminate=None, show_progress=False)
    assert leaky.scores.mean() == 1.0


def test_grouped_folds_with_fewer_folds(data_dir: Path) -> None:
    bench = load_benchmark("mt_bench", data_dir)
    out = router_scores("knn", {"k": 5}, "arena", {}, bench, seed=3, data_dir=data_dir,
                        n_folds=8, show_progress=False)
    assert out.info["n_folds"] == 8
    assert out.scores.shape == (len(out.benchmark),)
    assert ((out.scores >= 0) & (out.scores <= 1)).all()


def test_decontamination_drops_benchmark_prompts_seen_in_training(data_dir: Path) -> None:
    bench = load_benchmark("gsm8k", data_dir)
    nq = pd.read_json(data_dir / "nq_open/NQ-open.dev.jsonl", lines=True)["question"]
    leaked = list(bench.prompts[:25])
    # a near-duplicate: the same question with different white space still counts
    leaked_near = [bench.prompts[30].replace(" ", "  ", 1) + " "]
    prompts = leaked + leaked_near + nq.head(200).tolist()
    y = [1.0, 0.0] * (len(prompts) // 2) + [0.5] * (len(prompts) % 2)
    out = router_scores("knn", {}, _label_set(prompts, y), {}, bench, seed=0,
                        data_dir=data_dir, show_progress=False)
    assert out.info["folds"] == "none"
    dropped = set(out.dropped_ids)
    assert {bench.prompt_ids[i] for i in [*range(25), 30]} <= dropped
    assert out.n_dropped == len(dropped) == len(bench) - len(out.benchmark)
    assert len(dropped) < 40  # only the leaked ones (and GSM8K's own near-duplicates)
    assert out.benchmark.meta["dropped_similar_to_training"] == out.n_dropped
    assert not dropped & set(out.benchmark.prompt_ids)
    off = router_scores("knn", {}, _label_set(prompts, y), {}, bench, seed=0,
                        data_dir=data_dir, decontaminate=None, show_progress=False)
    assert off.n_dropped == 0 and len(off.benchmark) == len(bench)


def test_build_router_applies_params_and_seed() -> None:
    router = build_router("mlp", {"hidden_size": 8}, seed=7)
    assert router.get_params()["hidden_size"] == 8 and router.get_params()["seed"] == 7
    assert build_router("mlp", {"seed": 1}, seed=7).get_params()["seed"] == 1
    assert isinstance(build_router(KNNRouter(k=3), {}, seed=0), KNNRouter)
    with pytest.raises(ConfigError, match="no hyper-parameter 'depth'"):
        build_router("knn", {"depth": 3}, seed=0)
    with pytest.raises(ConfigError, match="Did you mean 'mlp'"):
        build_router("mpl", {}, seed=0)


def test_labels_without_cross_tier_rows_are_a_data_error(data_dir: Path) -> None:
    labels = ArenaLabels(strong_models=("gpt-4",), weak_models=("no-such-model",)).load(data_dir)
    bench = load_benchmark("gsm8k", data_dir)
    with pytest.raises(DataError, match="no comparison"):
        router_scores("knn", {}, labels, {}, bench, seed=0, data_dir=data_dir)


def test_systems_cover_table_1_and_resolve(data_dir: Path) -> None:
    assert set(SYSTEMS) == {
        "random", "to-router-knn", "to-router-mlp", "routellm-sw", "routellm-mf",
        "confidence-sw", "confidence-mf", "confidence-knn", "confidence-mlp",
    }
    for system in SYSTEMS.values():
        assert system.family in {"Random", "TO-Router", "RouteLLM", "Confidence"}
    with pytest.raises(ConfigError, match="Did you mean 'routellm-sw'"):
        get_system("routellm-sv")
    bench = load_benchmark("mt_bench", data_dir)
    rand = get_system("random").run(bench, seed=1)
    assert rand.scores.shape == (len(bench),) and rand.n_dropped == 0
    sw = get_system("routellm-sw").run(bench, seed=0, data_dir=data_dir, show_progress=False)
    assert sw.info["label_source"] == "arena" and sw.info["folds"] == "by_group"
    assert np.isfinite(sw.scores).all()


def test_label_free_router_needs_no_labels_and_trained_ones_do(data_dir: Path) -> None:
    bench = load_benchmark("gsm8k", data_dir)
    out = router_scores("random", {}, None, {}, bench, seed=4, data_dir=data_dir)
    assert out.scores.shape == (len(bench),) and out.n_dropped == 0
    again = router_scores("random", {}, None, {}, bench, seed=4, data_dir=data_dir)
    np.testing.assert_array_equal(out.scores, again.scores)
    with pytest.raises(ConfigError, match="trained on labels"):
        router_scores("knn", {}, None, {}, bench, seed=0, data_dir=data_dir)


def test_a_shared_fit_memo_fits_once_per_training_set_and_scores_the_same(
    data_dir: Path,
) -> None:
    gsm8k, mmlu = (load_benchmark(name, data_dir) for name in ("gsm8k", "mmlu"))
    mmlu = mmlu.subset(np.arange(len(mmlu)) < 500)
    labels = ArenaLabels().load(data_dir)
    params = {"epochs": 3}
    fitted: dict[str, Router] = {}
    LeakDetector.seen.clear()
    first = router_scores(LeakDetector(), {}, labels, {}, gsm8k, fitted=fitted,
                          show_progress=False)
    again = router_scores(LeakDetector(), {}, labels, {}, mmlu, fitted=fitted,
                          show_progress=False)
    assert len(LeakDetector.seen) == 1 and len(fitted) == 1  # the second benchmark reused it
    assert (first.info["fits_reused"], again.info["fits_reused"]) == (0, 1)
    # Other hyper-parameters or other training rows: a new fit, never a wrong reuse.
    mf = router_scores("mf", params, labels, {}, mmlu, fitted=fitted, show_progress=False)
    half = LabelSet(labels.records.iloc[::2], labels.strong_models, labels.weak_models, "arena")
    router_scores("mf", params, half, {}, mmlu, fitted=fitted, show_progress=False)
    router_scores("mf", {"epochs": 4}, labels, {}, mmlu, fitted=fitted, show_progress=False)
    assert len(fitted) == 4
    # A reused fit scores exactly as a fresh one.
    fresh = router_scores("mf", params, labels, {}, mmlu, show_progress=False)
    reused = router_scores("mf", params, labels, {}, mmlu, fitted=fitted, show_progress=False)
    assert reused.info["fits_reused"] == 1
    np.testing.assert_array_equal(reused.scores, fresh.scores)
    np.testing.assert_array_equal(mf.scores, fresh.scores)


def test_evaluate_help_names_every_system(capsys: pytest.CaptureFixture[str]) -> None:
    from routerlab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in SYSTEMS:
        # argparse may wrap a name at its hyphen ("to- router-knn")
        assert name in text.replace("- ", "-")
