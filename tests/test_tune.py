"""Optuna tuning: leak-free split, search space, objective, trials in MLflow, shared storage."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.search_space import Choice, FloatRange, IntRange
from studies.tuning import (
    objective_values,
    search_space,
    split_benchmark,
    split_params,
    suggest,
)


def test_split_never_puts_a_prompt_text_on_both_sides(data_dir: Path) -> None:
    from harness.benchmarks import load_benchmark

    mmlu = load_benchmark("mmlu", data_dir)  # holds the same question text in two subjects
    val, test = split_benchmark(mmlu, 0.5, seed=0)
    assert len(val) + len(test) == len(mmlu)
    assert not set(val.prompts) & set(test.prompts)
    assert 0.45 < len(val) / len(mmlu) < 0.55
    again, _ = split_benchmark(mmlu, 0.5, seed=0)
    assert again.prompt_ids == val.prompt_ids
    other, _ = split_benchmark(mmlu, 0.5, seed=1)
    assert other.prompt_ids != val.prompt_ids


def test_mt_bench_splits_by_question(data_dir: Path) -> None:
    from harness.benchmarks import load_benchmark

    mt = load_benchmark("mt_bench", data_dir)
    val, test = split_benchmark(mt, 0.5, seed=0)
    assert val.groups is not None and test.groups is not None
    assert not set(val.groups) & set(test.groups)


def test_search_space_comes_from_the_plugins() -> None:
    space = search_space("knn", "arena")
    assert "router.k" in space and all(k.startswith("router.") for k in space)
    with pytest.raises(ConfigError, match="nothing to tune"):
        search_space("random", None)
    assert split_params({"router.k": 3, "labels.tau": 0.2}) == ({"k": 3}, {"tau": 0.2})


def test_suggest_maps_ranges_to_optuna() -> None:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    f = suggest(trial, "f", FloatRange(0.1, 1.0, log=True))
    i = suggest(trial, "i", IntRange(1, 5))
    c = suggest(trial, "c", Choice(("a", "b")))
    assert 0.1 <= f <= 1.0 and 1 <= i <= 5 and c in ("a", "b")
    assert isinstance(i, int)


def test_objectives() -> None:
    m = {"cpt_50": 40.0, "cpt_80": 70.0}
    assert objective_values(m, "cpt_50", {}) == [40.0]
    assert objective_values(m, "weighted", {"cpt_50": 3, "cpt_80": 1}) == [47.5]
    assert objective_values(m, "multi", {}) == [40.0, 70.0]
    with pytest.raises(ConfigError):
        objective_values(m, "auc", {})


@pytest.mark.slow
def test_tune_logs_each_trial_and_the_test_evaluation(data_dir: Path) -> None:
    import optuna

    from harness.paths import optuna_storage_url
    from harness.tracking import find_runs
    from studies.tuning import TuneSpec, tune

    spec = TuneSpec(router="knn", labels="arena", benchmark="mt_bench", trials=3, n_boot=20)
    out = tune(spec, data_dir=data_dir, progress=False)
    assert out.n_trials == 3 and out.storage == optuna_storage_url()
    assert out.test is not None and np.isfinite(out.test["cpt_50"])
    assert set(out.best_params) <= set(search_space("knn", "arena"))
    trials = find_runs(filter={"routerlab.kind": "trial"})
    assert sorted(int(r.data.tags["routerlab.trial"]) for r in trials) == [0, 1, 2]
    assert all("value" in r.data.metrics for r in trials)
    tests = find_runs(filter={"routerlab.kind": "tuned_test"})
    assert len(tests) == 1 and tests[0].data.tags["routerlab.split"] == "test"
    # The test evaluation saw only test prompts: none of the validation split.
    loaded = optuna.load_study(study_name=out.study_name, storage=out.storage)
    assert len(loaded.trials) == 3


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_share_one_study_through_postgres(data_dir: Path, postgres_url: str) -> None:
    import optuna

    from harness.tracking import find_runs

    url = postgres_url
    name = f"test-shared-{uuid.uuid4().hex[:8]}"
    per_worker = 3
    cmd = [
        sys.executable,
        "-c",
        "import sys; from routerlab.cli import main; sys.exit(main())",
        "tune",
        "--labels",
        "arena",
        "--router",
        "knn",
        "--benchmark",
        "mt_bench",
        "--trials",
        str(per_worker),
        "--storage",
        url,
        "--study-name",
        name,
        "--no-test",
        "--json",
    ]
    env = {**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)}
    workers = [  # each its own --worker: its own sampler seed, derived from --seed
        subprocess.Popen([*cmd, "--worker", str(i)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    try:
        results = [w.communicate(timeout=600) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_out, err) in zip(workers, results, strict=True):
        assert w.returncode == 0, err[-2000:]
    try:
        study = optuna.load_study(study_name=name, storage=url)
        numbers = [t.number for t in study.trials]
        assert sorted(numbers) == list(range(2 * per_worker))
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        # Each trial is in MLflow exactly once (each worker logs only its own trials).
        runs = find_runs(filter={"routerlab.kind": "trial", "routerlab.optuna_study": name})
        logged = sorted(int(r.data.tags["routerlab.trial"]) for r in runs)
        assert logged == list(range(2 * per_worker))
    finally:
        optuna.delete_study(study_name=name, storage=url)


@pytest.mark.slow
def test_tuning_is_reproducible_from_a_seed_and_feeds_run_tuned(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import optuna

    from reports.build import build_report
    from reports.runs import load_runs
    from routerlab.cli import main
    from studies.tuning import TuneSpec, load_tuned, tune

    def trials(seed: int, worker: int, storage: str) -> list[dict[str, object]]:
        spec = TuneSpec(router="knn", labels="arena", benchmark="mt_bench", trials=4, seed=seed,
                        worker=worker, storage=storage, evaluate_test=False)
        out = tune(spec, data_dir=data_dir, progress=False)
        study = optuna.load_study(study_name=out.study_name, storage=storage)
        assert study.metric_names == ["cpt_50"]  # the dashboard names the objective
        return [t.params for t in study.trials]

    first = trials(7, 0, f"sqlite:///{tmp_path / 'a.db'}")
    assert trials(7, 0, f"sqlite:///{tmp_path / 'b.db'}") == first  # same seed: same trials
    assert trials(7, 1, f"sqlite:///{tmp_path / 'c.db'}") != first  # another worker: its own

    tuned = load_tuned()["arena-knn-mt_bench"]
    assert set(tuned["router_params"]) == {"k", "weights", "ties"}
    assert tuned["objective"] == ["cpt_50"]

    study = tmp_path / "tiny.toml"
    study.write_text('name = "tiny"\nbenchmarks = ["mt_bench"]\nn_boot = 20\n'
                     '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n')
    assert main(["run", str(study), "--tuned"]) == 0
    assert "tuned arena-knn-mt_bench" in capsys.readouterr().out
    runs = load_runs("tiny-tuned")
    ev = runs[runs["kind"] == "evaluation"]
    assert len(ev) == 1
    for key, value in tuned["router_params"].items():
        assert ev[f"param.router_params.{key}"].iloc[0] == str(value)
    assert json.loads(ev["tuned"].iloc[0]) == {**tuned["router_params"], **tuned["label_params"]}
    report = build_report(runs, study="tiny-tuned")
    table = report.tables["tuned"]
    assert table.rows[0][0].text == "RouteLLM"
    assert all(f"{k}=" in table.rows[0][3].text for k in tuned["router_params"])


def test_a_degenerate_trial_is_flagged_and_never_chosen_best(data_dir: Path) -> None:
    """Trials whose router gives every prompt the same score (CPT exactly 50/80) are pruned
    with ``degenerate`` set; the best trial is one whose scores vary."""
    import optuna

    from studies.tuning import TuneSpec, tune

    def scorer(router_params: dict, label_params: dict, part: object) -> np.ndarray:
        gain = part.strong_score - part.weak_score  # type: ignore[attr-defined]
        if router_params["k"] < 30:
            return np.full(len(gain), 0.5)  # constant: CPT(50) = 50 exactly
        # a weak but real signal: CPT(50) well above the oracle, below random
        return gain + np.random.default_rng(0).normal(0, 2.0, len(gain))

    spec = TuneSpec(router="knn", labels="arena", benchmark="gsm8k", trials=8, n_boot=20)
    out = tune(spec, data_dir=data_dir, scorer=scorer, progress=False)
    study = optuna.load_study(study_name=out.study_name, storage=out.storage)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and done
    assert all(t.user_attrs.get("degenerate") for t in pruned)
    assert all(t.params["router.k"] < 30 for t in pruned)
    assert out.best_params["router.k"] >= 30
