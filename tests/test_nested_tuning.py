"""Tuning nested inside cross-fit: per-fold choices that never see the fold, checked by id on
a synthetic benchmark with real embeddings and a real Optuna sqlite storage; a study's
cross-fit runs then use the per-fold values (`routerlab run STUDY --tuned`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic import synthetic_benchmark

from harness.errors import ConfigError
from harness.protocols import fold_of_questions, question_keys


def test_nested_tuning_never_lets_a_fold_see_its_own_prompts(
    data_dir: Path, tmp_path: Path
) -> None:
    from harness.benchmarks import load_benchmark
    from studies.nested_tuning import tune_cross_fit
    from studies.tuning import TuneSpec, load_tuned

    path = str(synthetic_benchmark(tmp_path / "syn.csv", n=24))
    bench = load_benchmark(path)
    spec = TuneSpec(router="knn", labels="outcomes", benchmark=path, trials=3, seed=5,
                    n_boot=50)
    out = tune_cross_fit(spec, n_folds=4, inner_folds=2, data_dir=data_dir, progress=False)

    # The outer folds are the cross-fit protocol's folds for this seed.
    outer = fold_of_questions(question_keys(bench), 4, 5)
    assert len(out.folds) == 4
    held_all: set[str] = set()
    for choice in out.folds:
        expected = {p for p, f in zip(bench.prompt_ids, outer, strict=True) if f == choice.fold}
        assert choice.held_out_ids == expected
        trained = {rid.split(":", 1)[1] for rid in choice.inner_train_ids}
        # No inner trial scored a held-out prompt or trained on its label ...
        assert not choice.inner_scored_ids & choice.held_out_ids
        assert not trained & choice.held_out_ids
        # ... and the inner cross-fit did score (and train on) the rest.
        assert choice.inner_scored_ids and trained
        # (decontamination within the inner folds may drop a near-duplicate poem or two)
        rest = set(bench.prompt_ids) - choice.held_out_ids
        assert choice.inner_scored_ids <= rest and len(choice.inner_scored_ids) >= 0.8 * len(rest)
        assert 1 <= int(choice.router_params["k"]) <= 100  # drawn from the declared space
        assert choice.n_trials == 3
        held_all |= choice.held_out_ids
    assert held_all == set(bench.prompt_ids)

    # Scored once with each fold's winner: the learned kind separates the classes, so the
    # CPT(50) is far below random (the oracle's is 16.7).
    assert out.metrics["cpt_50"] < 30 and out.run_id is not None

    record = load_tuned()[f"outcomes-knn-{path}-cross-fit"]
    assert record["protocol"] == "cross-fit"
    assert record["folds"]["n_folds"] == 4 and record["folds"]["fold_seed"] == 5
    assert record["folds"]["router_params"] == [c.router_params for c in out.folds]

    # A rerun finds the trials in the storage and adds none.
    again = tune_cross_fit(spec, n_folds=4, inner_folds=2, data_dir=data_dir, progress=False,
                           log_run=False)
    assert [c.router_params for c in again.folds] == [c.router_params for c in out.folds]
    assert all(c.n_trials == 3 for c in again.folds)


def test_a_study_uses_the_per_fold_values_and_refuses_other_folds(
    data_dir: Path, tmp_path: Path
) -> None:
    from reports.build import build_report
    from reports.runs import load_runs
    from studies.nested_tuning import tune_cross_fit
    from studies.runner import run_study
    from studies.spec import parse_study
    from studies.tuning import TuneSpec, load_tuned

    path = str(synthetic_benchmark(tmp_path / "syn.csv", n=24, models=True))
    spec = TuneSpec(router="knn", labels="outcomes", benchmark=path, trials=2, seed=0,
                    n_boot=20)
    out = tune_cross_fit(spec, n_folds=3, inner_folds=2, data_dir=data_dir, progress=False,
                         log_run=False)
    body = {"name": "nested", "benchmarks": [path], "n_boot": 20,
            "grid": [{"labels": ["outcomes"], "routers": ["knn"], "protocols": ["cross-fit"],
                      "n_folds": 3}]}
    study = parse_study(body).with_tuned(load_tuned())
    result = run_study(study, data_dir=data_dir, progress=False)
    assert not result.failed and len(result.ran) == 1
    ev = load_runs("nested-tuned")
    ev = ev[ev["kind"] == "evaluation"]
    tuned = json.loads(ev["tuned"].iloc[0])
    assert tuned["k"] == [c.router_params["k"] for c in out.folds]
    table = build_report(load_runs("nested-tuned"), study="nested-tuned").tables["tuned"]
    assert "k=[" in table.rows[0][3].text

    # Other folds (another number of folds, or another seed) would have been tuned on scored
    # prompts: refused with one line.
    for change in ({"n_folds": 5}, {"seeds": [1]}):
        grid = [{**body["grid"][0], **({"n_folds": 5} if "n_folds" in change else {})}]
        other = parse_study({**body, "grid": grid, **({"seeds": [1]} if "seeds" in change
                                                      else {})}).with_tuned(load_tuned())
        with pytest.raises(ConfigError, match="folds|seed"):
            list(other.combinations())


def test_tuned_values_are_kept_apart_per_feature_set(data_dir: Path, tmp_path: Path) -> None:
    from studies.nested_tuning import tune_cross_fit
    from studies.spec import parse_study
    from studies.tuning import TuneSpec, load_tuned

    path = str(synthetic_benchmark(tmp_path / "syn.csv", n=24))
    spec = TuneSpec(router="knn", labels="outcomes", benchmark=path, trials=2, seed=0,
                    n_boot=20, features="embedding+stats")
    out = tune_cross_fit(spec, n_folds=3, inner_folds=2, data_dir=data_dir, progress=False,
                         log_run=False)
    assert "knn+stats" in out.folds[0].optuna_study
    records = load_tuned()
    record = records[f"outcomes-knn+stats-{path}-cross-fit"]
    assert record["features"] == "embedding+stats"
    assert f"outcomes-knn-{path}-cross-fit" not in records

    # A study's stats variant takes the tuned per-fold values; its embedding-only variant,
    # a different system, keeps its own.
    body = {"name": "feats", "benchmarks": [path], "n_boot": 20,
            "router_params": {"knn": {"k": 7}},
            "grid": [{"labels": ["outcomes"], "routers": ["knn"], "protocols": ["cross-fit"],
                      "n_folds": 3, "features": ["embedding", "embedding+stats"]}]}
    combos = {c.features: c for c in parse_study(body).with_tuned(records).combinations()}
    assert combos["embedding+stats"].fold_router_params == tuple(
        c.router_params for c in out.folds
    )
    assert combos["embedding"].fold_router_params == ()
    assert combos["embedding"].router_params["k"] == 7
