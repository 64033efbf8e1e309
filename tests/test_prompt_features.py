"""Text statistics next to the embedding (``features="embedding+stats"``): the statistics
themselves, their scaling, a benchmark where only they carry the signal, and a shipped
router that computes them again on the prompts it routes."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.benchmarks import load_benchmark
from harness.errors import ConfigError
from harness.pipeline import router_scores
from harness.prompt_features import (
    STATISTICS,
    StatisticsScaler,
    check_features,
    router_input,
    text_statistics,
)
from harness.protocols import protocol_label_params


def test_text_statistics_of_a_known_prompt() -> None:
    text = "Tom has 12 apples and 3/4 of 1,250 pears.\nHow many = 5 + 7?"
    stats = dict(zip(STATISTICS, text_statistics([text])[0], strict=True))
    assert stats["log_chars"] == pytest.approx(math.log1p(len(text)))
    assert stats["log_words"] == pytest.approx(math.log1p(15))
    # numbers: 12, 3, 4, 1,250, 5, 7 (a thousands separator stays inside its number)
    assert stats["log_numbers"] == pytest.approx(math.log1p(6))
    assert stats["log_distinct_numbers"] == pytest.approx(math.log1p(6))
    assert stats["longest_number_digits"] == 5  # "1,250"
    assert stats["log_sentences"] == pytest.approx(math.log1p(2))  # "." and the final "?"
    assert stats["has_percent"] == 0 and stats["has_slash"] == 1
    assert stats["log_math_symbols"] == pytest.approx(math.log1p(2))  # "=" and "+"
    assert stats["log_lines"] == pytest.approx(math.log1p(1))
    assert text_statistics([""])[0].tolist() == [0.0] * len(STATISTICS)


def test_scaler_standardises_on_training_rows_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(200, len(STATISTICS)))
    train[:, 0] = 7.0  # a constant statistic carries nothing: it becomes 0, not NaN
    scaler = StatisticsScaler.fit(train, weight=2.0)
    z = scaler.transform(train)
    assert np.allclose(z[:, 1:].mean(axis=0), 0.0, atol=1e-5)
    assert np.all(z[:, 0] == 0.0)
    # the block's typical norm is about the weight (each standardised column has variance 1)
    assert np.sqrt((z**2).sum(axis=1).mean()) == pytest.approx(2.0 * math.sqrt(11 / 12), rel=1e-3)
    again = StatisticsScaler.from_dict(scaler.to_dict())
    assert again == scaler
    with pytest.raises(ConfigError, match="export it again"):
        StatisticsScaler.from_dict({**scaler.to_dict(), "names": ["length"]})
    X = rng.normal(size=(3, 4)).astype(np.float32)
    assert np.array_equal(router_input(X, ["a", "b", "c"], None), X)  # the embedding alone
    assert router_input(X, ["a", "b", "c"], scaler).shape == (3, 4 + len(STATISTICS))
    with pytest.raises(ConfigError, match="embedding\\+stats"):
        check_features("stats")


def _counting_benchmark(path: Path) -> Path:
    """Same question on different objects; the strong model alone is right when the prompt
    holds more than five numbers. The embedding says what is counted, not how many."""
    topics = ["apples", "marbles", "stamps", "coins", "books", "shells", "cards", "pencils"]
    rng = random.Random(0)
    rows = []
    for i in range(64):
        n = 2 + (i * 7) % 9
        numbers = ", ".join(str(rng.randint(2, 99)) for _ in range(n))
        topic = topics[i % len(topics)]
        rows.append({
            "id": f"q{i}",
            "prompt": f"Sam counts {topic} in boxes holding {numbers}. How many {topic} are there?",
            "weak": n <= 5, "strong": True,
        })
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _auc(positive: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


def test_statistics_carry_what_the_embedding_misses_and_are_fitted_per_fold(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _counting_benchmark(tmp_path / "counting.csv")
    bench = load_benchmark(str(path))
    params = protocol_label_params("cross-fit", "outcomes", {}, str(path))
    fitted_rows: list[int] = []
    real_fit = StatisticsScaler.fit.__func__  # type: ignore[attr-defined]

    def spy(
        cls: type[StatisticsScaler], stats: np.ndarray, weight: float = 1.0
    ) -> StatisticsScaler:
        fitted_rows.append(stats.shape[0])
        return real_fit(cls, stats, weight)

    monkeypatch.setattr(StatisticsScaler, "fit", classmethod(spy))
    aucs = {}
    for features in ("embedding", "embedding+stats"):
        out = router_scores(
            "logreg", {"C": 1.0}, "outcomes", params, bench, seed=0, protocol="cross-fit",
            n_folds=4, decontaminate=None, show_progress=False, features=features,
        )
        hard = np.array([int(pid[1:]) for pid in out.benchmark.prompt_ids])
        hard = np.array([2 + (i * 7) % 9 > 5 for i in hard])
        aucs[features] = _auc(hard, out.scores)
        assert out.info["features"] == features
    assert aucs["embedding+stats"] >= 0.95
    assert aucs["embedding+stats"] > aucs["embedding"] + 0.2
    # one scaler per fold, fitted on that fold's training rows only (48 of 64)
    assert fitted_rows == [48, 48, 48, 48]


def test_cli_evaluate_logs_the_features_and_the_report_names_the_variant(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    from reports.runs import load_runs, router_variants
    from reports.tables import router_title
    from routerlab.cli import main

    path = _counting_benchmark(tmp_path / "counting.csv")
    args = ["evaluate", "-b", str(path), "-r", "logreg", "-l", "outcomes", "--protocol",
            "cross-fit", "--folds", "4", "--n-boot", "50", "--json"]
    assert main([*args, "--features", "embedding+stats"]) == 0
    assert main(args) == 0
    capsys.readouterr()
    runs = router_variants(load_runs(None))
    runs = runs[runs["kind"] == "evaluation"]
    assert sorted(runs["router"]) == ["logreg", "logreg+stats"]
    assert router_title("logreg+stats") == "LogReg + stats"
    stats_run = runs[runs["router"] == "logreg+stats"].iloc[0]
    logged = mlflow.get_run(stats_run["run_id"]).data.params
    assert logged["features"] == "embedding+stats"
    with pytest.raises(SystemExit):
        main([*args, "--features", "stats"])
    assert "invalid choice: 'stats'" in capsys.readouterr().err


def test_exported_router_computes_the_statistics_of_routed_prompts(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    from harness.serving.trained import train_router
    from routerlab.cli import main

    assert main(["export", "-r", "logreg", "-l", "arena", "--features", "embedding+stats",
                 "--threshold", "0.5", "--name", "t-stats"]) == 0
    capsys.readouterr()
    prompts = list(load_benchmark("gsm8k", data_dir).prompts[:8]) + [
        "Hi", "Write a haiku about rain.",
    ]
    trained = train_router("logreg", "arena", data_dir=data_dir, show_progress=False,
                           features="embedding+stats")
    plain = train_router("logreg", "arena", data_dir=data_dir, show_progress=False)
    expected = trained.scores(prompts)
    assert not np.allclose(expected, plain.scores(prompts), atol=1e-3)  # the stats are read
    model = mlflow.pyfunc.load_model("models:/t-stats/1")
    got = model.predict(pd.DataFrame({"prompt": prompts}))
    assert got["score"].to_numpy() == pytest.approx(expected, abs=1e-5)
    run = mlflow.get_run(str(mlflow.MlflowClient().get_model_version("t-stats", "1").run_id))
    assert run.data.params["features"] == "embedding+stats"
