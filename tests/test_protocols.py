"""Outcome labels and the evaluation protocols (cross-fit, leave-one-benchmark-out), on real
embeddings, a synthetic benchmark file and the real benchmark data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import synthetic_benchmark

from harness.benchmarks import load_benchmark
from harness.errors import ConfigError
from harness.labels.outcomes import OutcomeLabels, outcome_winners
from harness.pipeline import router_scores
from harness.protocols import (
    check_protocol,
    fold_of_questions,
    protocol_label_params,
    question_keys,
)
from routerlab.cli import main


def test_outcome_winners_follow_the_margin_rule() -> None:
    weak = np.array([0, 1, 1, 0, 7.0, 8.0, 8.0])
    strong = np.array([1, 0, 1, 0, 9.0, 8.5, 7.0])
    assert outcome_winners(weak, strong, 0.0).tolist() == [1, 0, 0.5, 0.5, 1, 1, 0]
    # a margin turns small score differences into ties
    assert outcome_winners(weak, strong, 0.5).tolist() == [1, 0, 0.5, 0.5, 1, 0.5, 0]


def test_outcome_labels_from_builtin_and_custom_benchmarks(data_dir: Path, tmp_path: Path) -> None:
    gsm = OutcomeLabels(benchmarks=("gsm8k",)).load(data_dir)
    bench = load_benchmark("gsm8k", data_dir)
    records, y = gsm.targets()
    assert len(records) == len(bench) == 1307
    only_strong = (bench.strong_score == 1) & (bench.weak_score == 0)
    only_weak = (bench.strong_score == 0) & (bench.weak_score == 1)
    assert int((y == 1.0).sum()) == int(only_strong.sum()) == gsm.meta["strong_wins"]
    assert int((y == 0.0).sum()) == int(only_weak.sum())
    assert records["prompt_id"].tolist() == bench.prompt_ids

    mt = OutcomeLabels(benchmarks=("mt_bench",), margin=1.0).load(data_dir)
    mt_bench = load_benchmark("mt_bench", data_dir)
    diff = mt_bench.strong_score - mt_bench.weak_score
    assert mt.meta["strong_wins"] == int((diff > 1.0).sum())
    assert mt.meta["ties"] == int((np.abs(diff) <= 1.0).sum())

    custom = OutcomeLabels(benchmarks=str(synthetic_benchmark(tmp_path / "syn.csv"))).load(
        data_dir
    )
    assert custom.meta["strong_wins"] == 24 and custom.meta["weak_wins"] == 8

    with pytest.raises(ConfigError, match="different model pairs"):
        OutcomeLabels(benchmarks=("gsm8k", "gsm8k_qwen")).load(data_dir)
    with pytest.raises(ConfigError, match="needs benchmarks"):
        OutcomeLabels().load(data_dir)


def test_cross_fit_recovers_the_separating_kind_and_never_scores_a_training_prompt(
    data_dir: Path, tmp_path: Path
) -> None:
    path = synthetic_benchmark(tmp_path / "syn.csv")
    bench = load_benchmark(str(path))
    params = protocol_label_params("cross-fit", "outcomes", {}, str(path))
    out = router_scores(
        "knn", {"k": 3}, "outcomes", params, bench, seed=7, data_dir=data_dir,
        protocol="cross-fit", n_folds=4, decontaminate=None, show_progress=False,
    )
    assert out.info["protocol"] == "cross-fit" and out.info["fold_seed"] == 7
    assert len(out.folds) == 4
    scored: list[str] = []
    for fold in out.folds:
        trained_on = {rid.split(":", 1)[1] for rid in fold.train_ids}
        assert not trained_on & set(fold.scored_ids)  # never scored by a router that saw it
        assert len(trained_on) + len(fold.scored_ids) == len(bench)
        scored += fold.scored_ids
    assert sorted(scored) == sorted(bench.prompt_ids)  # every prompt scored exactly once
    kind = np.array([pid.startswith("math") for pid in out.benchmark.prompt_ids])
    # the learned score separates the classes: every arithmetic prompt above every poem
    assert out.scores[kind].min() > out.scores[~kind].max()

    # transfer of the same labels would score prompts the router was trained on
    leaky = router_scores("knn", {"k": 3}, "outcomes", params, bench, seed=7,
                          data_dir=data_dir, decontaminate=None, show_progress=False)
    assert leaky.info["protocol"] == "transfer"
    assert set(leaky.folds[0].scored_ids) <= {r.split(":", 1)[1] for r in leaky.folds[0].train_ids}


def test_cross_fit_keeps_question_groups_on_one_side(data_dir: Path, tmp_path: Path) -> None:
    path = synthetic_benchmark(tmp_path / "grouped.csv", groups=True)
    bench = load_benchmark(str(path))
    group_of = dict(zip(bench.prompt_ids, question_keys(bench), strict=True))
    out = router_scores(
        "knn", {"k": 3}, "outcomes", {"benchmarks": (str(path),)}, bench, seed=1,
        data_dir=data_dir, protocol="cross-fit", n_folds=3, decontaminate=None,
        show_progress=False,
    )
    for fold in out.folds:
        train_groups = {group_of[r.split(":", 1)[1]] for r in fold.train_ids}
        assert not train_groups & {group_of[p] for p in fold.scored_ids}


def test_fold_assignment_is_seeded_and_balanced() -> None:
    keys = [f"q{i % 50}" for i in range(200)]
    a, b = fold_of_questions(keys, 5, 0), fold_of_questions(keys, 5, 0)
    assert (a == b).all() and not (a == fold_of_questions(keys, 5, 1)).all()
    assert np.bincount(a).tolist() == [40] * 5
    for key in set(keys):  # whole questions
        assert len({int(f) for f, k in zip(a, keys, strict=True) if k == key}) == 1
    with pytest.raises(ConfigError, match="n_folds"):
        fold_of_questions(keys, 1, 0)


def test_protocol_names_and_label_params() -> None:
    assert check_protocol("lobo") == "leave-one-benchmark-out"
    assert check_protocol("cross_fit") == "cross-fit"
    with pytest.raises(ConfigError, match="unknown protocol"):
        check_protocol("holdout")
    assert protocol_label_params("cross-fit", "outcomes", {}, "gsm8k") == {
        "benchmarks": ("gsm8k",)
    }
    assert protocol_label_params(
        "leave-one-benchmark-out", "outcomes", {"margin": 1}, "gsm8k", ["mmlu", "mt_bench"]
    ) == {"margin": 1, "benchmarks": ("mmlu", "mt_bench")}
    with pytest.raises(ConfigError, match="also a training benchmark"):
        protocol_label_params("leave-one-benchmark-out", "outcomes", {}, "gsm8k", ["gsm8k"])
    with pytest.raises(ConfigError, match="labels 'outcomes'"):
        protocol_label_params("leave-one-benchmark-out", "se", {}, "gsm8k", ["mmlu"])


def test_cli_cross_fit_and_leave_one_benchmark_out(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = synthetic_benchmark(tmp_path / "syn.csv", n=60)
    other = synthetic_benchmark(tmp_path / "other.csv", n=12, variant=1)
    code = main(["evaluate", "--benchmark", str(path), "--router", "knn", "--labels",
                 "outcomes", "--router-param", "k=3", "--protocol", "cross-fit", "--folds",
                 "4", "--n-boot", "200", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["protocol"] == "cross-fit"
    result = summary["results"][0]
    assert result["fold_seed"] == 0
    # random needs 50 %; the router learns the kind and reaches the oracle (decontamination
    # dropped near-duplicate prompts, so the oracle is that of the prompts kept)
    assert result["cpt_50"] <= result["oracle_cpt_50"] + 3 < 40
    assert result["beats_random_50"] == 1
    assert result["dropped_similar_to_training"] >= 0

    code = main(["evaluate", "--benchmark", str(path), "--router", "knn", "--labels",
                 "outcomes", "--protocol", "lobo", "--train-benchmarks", str(other),
                 "--n-boot", "0", "--no-mlflow"])
    assert code == 0
    assert f"trained on the outcomes of {other}" in capsys.readouterr().out


def test_compare_two_tracked_runs_with_a_paired_bootstrap(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(synthetic_benchmark(tmp_path / "syn.csv", n=60))
    ids = []
    for extra in (["--router", "knn", "--labels", "outcomes", "--router-param", "k=3",
                   "--protocol", "cross-fit", "--folds", "4"], ["--router", "random"]):
        assert main(["evaluate", "--benchmark", path, *extra, "--n-boot", "100", "--json"]) == 0
        ids.append(json.loads(capsys.readouterr().out)["results"][0]["mlflow_run_id"])
    assert main(["compare", ids[0], ids[1], "--n-boot", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # decontamination dropped near-duplicates from the cross-fit run only: compared on the rest
    assert out["n"] + out["n_only_b"] == 120 and out["n_only_a"] == 0
    assert out["run_a"]["protocol"] == "cross-fit"
    row50 = next(r for r in out["rows"] if r["pct"] == 50)
    assert row50["difference"] == pytest.approx(row50["cpt_a"] - row50["cpt_b"])
    assert row50["hi"] < 0 and row50["verdict"] == "A better"
    # the text form names both runs and the interval
    assert main(["compare", ids[1], ids[0], "--n-boot", "100"]) == 0
    text = capsys.readouterr().out
    assert "B better" in text and ids[0] in text
    assert main(["compare", ids[0], "no-such-run"]) == 2
    assert "no MLflow run 'no-such-run'" in capsys.readouterr().err


def test_study_runs_both_protocols_and_the_report_renders_one_table_per_protocol(
    data_dir: Path, tmp_path: Path
) -> None:
    from reports.build import build_report
    from reports.runs import load_runs
    from studies.runner import StudyLoader, keyed_combinations, run_study
    from studies.spec import parse_study

    first = str(synthetic_benchmark(tmp_path / "first.csv", n=30, models=True))
    second = str(synthetic_benchmark(tmp_path / "second.csv", n=18, variant=1, models=True))
    study = parse_study({
        "name": "protocols", "benchmarks": [first, second], "n_boot": 50,
        "grid": [{"labels": ["outcomes"], "routers": ["knn"],
                  "protocols": ["cross-fit", "lobo"], "n_folds": 3,
                  "router_params": {"knn": {"k": 3}}}],
        "systems": [{"router": "random"}],
    })
    combos = keyed_combinations(study, StudyLoader(data_dir))
    lobo = {c.benchmark: c.train_benchmarks for c in combos
            if c.protocol == "leave-one-benchmark-out"}
    assert lobo == {first: (second,), second: (first,)}
    assert {c.router_params.get("k") for c in combos if c.router == "knn"} == {3}

    outcome = run_study(study, data_dir=data_dir, progress=False)
    assert not outcome.failed and len(outcome.ran) == 6
    runs = load_runs("protocols")
    ev = runs[runs["kind"] == "evaluation"]
    assert set(ev["protocol"]) == {"transfer", "cross-fit", "leave-one-benchmark-out"}
    report = build_report(runs, study="protocols")
    titles = {name: table.title for name, table in report.tables.items()}
    assert {"table2_first_cross_fit", "table2_first_leave_one_benchmark_out",
            "table2_second_cross_fit"} <= set(titles)
    assert "protocol cross-fit" in titles["table2_first_cross_fit"]
    assert "the evaluated pair's own outcomes" in titles["table2_first_cross_fit"]
    notes = " ".join(report.tables["table2_first_leave_one_benchmark_out"].notes)
    assert "Trained on the outcomes of: first ← " in notes and "second.csv" in notes


def test_a_rebuilt_training_benchmark_gives_leave_one_out_runs_new_keys(
    data_dir: Path, tmp_path: Path
) -> None:
    from studies.runner import StudyLoader, keyed_combinations
    from studies.spec import parse_study

    first = str(synthetic_benchmark(tmp_path / "first.csv", n=12, models=True))
    second_path = synthetic_benchmark(tmp_path / "second.csv", n=9, variant=1, models=True)
    study = parse_study({
        "name": "keys", "benchmarks": [first, str(second_path)],
        "grid": [{"labels": ["outcomes"], "routers": ["knn"],
                  "protocols": ["cross-fit", "lobo"], "n_folds": 3}],
    })

    def keys() -> dict[tuple[str, str], str]:
        return {(c.benchmark, c.protocol): c.key
                for c in keyed_combinations(study, StudyLoader(data_dir))}

    before = keys()
    second_path.write_text(second_path.read_text().replace("True", "False", 2))
    after = keys()
    # first's cross-fit run reads only first; its leave-one-out run trains on second
    assert after[(first, "cross-fit")] == before[(first, "cross-fit")]
    assert after[(first, "leave-one-benchmark-out")] != before[(first, "leave-one-benchmark-out")]
