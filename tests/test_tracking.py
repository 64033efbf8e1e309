"""MLflow tracking: store location, parent/child runs, find_runs, and no secrets in params."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harness import tracking
from harness.benchmarks import load_benchmark
from harness.evaluation import evaluate_scores


def test_flatten_params_drops_secrets() -> None:
    flat = tracking.flatten_params({
        "router": "knn",
        "router_params": {"k": 1, "metric": "cosine"},
        "label_params": {"api_key": "abc", "judge": {"auth_token": "t", "model": "m"}},
        "OPENAI_API_KEY": "sk-abcdefghijklmnopqrstuvwxyz",
        "endpoint": "sk-abcdefghijklmnopqrstuvwxyz0123",
        "db_password": "x",
        "benchmarks": ["gsm8k", "mmlu"],
    })
    assert flat == {
        "router": "knn",
        "router_params.k": "1",
        "router_params.metric": "cosine",
        "label_params.judge.model": "m",
        "benchmarks": '["gsm8k", "mmlu"]',
    }


def test_tracking_uri_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x.db")
    assert tracking.tracking_uri() == "sqlite:///x.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("ROUTERLAB_HOME", str(tmp_path / "home"))
    uri = tracking.tracking_uri()
    assert uri == f"sqlite:///{(tmp_path / 'home' / 'mlflow.db').resolve()}"
    assert tracking._artifact_location(uri) == (tmp_path / "home" / "mlartifacts").as_uri()


def test_parent_child_runs_and_find_runs(tmp_path: Path) -> None:
    bench = load_benchmark("mt_bench")
    scores = np.random.default_rng(0).random(len(bench))
    secret = "sk-" + "z" * 40
    with tracking.parent_run("study x", {"study": "x", "api_token": secret}) as parent_id:
        a = evaluate_scores(
            bench, scores, system="sysA", params={"router": "knn", "router_params": {"k": 1},
                                                  "label_source": "se",
                                                  "label_params": {"api_key": secret}},
            seed=0, n_boot=20, extra_tags={"routerlab.study": "x", "routerlab.key": "a"},
        )
        b = evaluate_scores(
            bench, 1 - scores, system="sysB", params={"router": "mf"}, seed=1, n_boot=20,
            extra_tags={"routerlab.study": "x", "routerlab.key": "b"},
        )
    runs = tracking.find_runs(filter={"routerlab.study": "x"})
    assert {r.info.run_id for r in runs} == {a.run_id, b.run_id}
    for r in runs:
        assert r.data.tags["mlflow.parentRunId"] == parent_id
        assert r.data.tags["routerlab.kind"] == "evaluation"
    only_a = tracking.find_runs(filter={"routerlab.label_source": "se"})
    assert [r.info.run_id for r in only_a] == [a.run_id]
    assert only_a[0].data.tags["routerlab.router"] == "knn"
    assert only_a[0].data.params["router_params.k"] == "1"
    parents = tracking.find_runs(filter="tags.`routerlab.kind` = 'parent'")
    assert [r.info.run_id for r in parents] == [parent_id]
    # No secret anywhere in params or tags of any run.
    for r in runs + parents:
        blob = " ".join(list(r.data.params.values()) + list(r.data.tags.values()))
        assert secret not in blob
        assert not any("key" in k.lower() or "token" in k.lower() for k in r.data.params)
    assert tracking.find_runs("no-such-experiment") == []
    # Artifacts live beside the sqlite file, not in the working directory.
    home = (Path(os.environ["ROUTERLAB_HOME"]) / "mlartifacts").resolve().as_uri()
    assert all(r.info.artifact_uri.startswith(home) for r in runs + parents)
