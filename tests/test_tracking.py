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
    # In ROUTERLAB_HOME: artifacts relative to it; a sqlite file elsewhere: beside it.
    assert tracking._artifact_location(uri) == "routerlab-home:///mlartifacts"
    other = tmp_path / "elsewhere" / "m.db"
    assert tracking._artifact_location(f"sqlite:///{other}") == (
        (tmp_path / "elsewhere" / "mlartifacts").as_uri()
    )


def test_a_sqlite_store_is_written_ahead_not_synced_per_commit(tmp_path: Path) -> None:
    import sqlite3

    tracking.open_store()
    db = Path(tracking.tracking_uri().removeprefix("sqlite:///"))
    with sqlite3.connect(db) as con:  # journal mode is a property of the file
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # another sqlite database opened in the same process keeps sqlite's defaults
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"


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
    # Artifacts live in ROUTERLAB_HOME (named relative to it), not in the working directory.
    assert all(r.info.artifact_uri.startswith("routerlab-home:/mlartifacts/")
               for r in runs + parents)
    assert (Path(os.environ["ROUTERLAB_HOME"]) / "mlartifacts" / a.run_id / "artifacts"
            / "curve.csv").is_file()


@pytest.mark.slow
def test_study_runs_describe_themselves_and_survive_a_moved_store(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a small study, the sqlite store itself holds what a reader of the MLflow UI
    needs: unique readable names, every resolved hyper-parameter, dataset inputs, the git
    commit, the true duration, units; and its artifacts survive moving ROUTERLAB_HOME."""
    import shutil

    from mlflow.tracking import MlflowClient

    from harness.pipeline import resolve_params
    from studies.runner import run_study
    from studies.spec import load_study

    study_file = tmp_path / "tiny.toml"
    study_file.write_text(
        'name = "tiny"\nbenchmarks = ["mt_bench"]\nn_boot = 20\ntrain_fractions = [0.5, 1.0]\n'
        '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n'
        '[[systems]]\nrouter = "random"\n'
        "[router_params.knn]\nk = 3\n"
    )
    outcome = run_study(load_study(study_file), data_dir=data_dir, progress=False)
    assert not outcome.failed and len(outcome.ran) == 3

    home = Path(os.environ["ROUTERLAB_HOME"])
    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    runs = client.search_runs(
        [client.get_experiment_by_name("routerlab").experiment_id],
        filter_string="tags.`routerlab.kind` = 'evaluation'",
    )
    assert len(runs) == 3
    names = [r.info.run_name for r in runs]
    assert len(set(names)) == 3
    assert "tiny · RouteLLM · arena×knn · mt_bench · train 50% · seed 0" in names
    expected = resolve_params("knn", {"k": 3}, "arena", {})
    for run in runs:
        p, m, t = run.data.params, run.data.metrics, run.data.tags
        assert t["mlflow.source.git.commit"] and len(t["mlflow.source.git.commit"]) == 40
        assert t["routerlab.quality_unit"] == "judge score (1-10)"
        assert "judge score (1-10)" in t["mlflow.note.content"]
        # Units in names; no metric duplicating a param.
        assert {"quality_weak", "quality_strong", "cpt_50", "usd_cpt_50"} <= set(m)
        assert not {"n", "weak", "strong", "train_size", "n_boot"} & set(m)
        assert p["n_prompts"] and p["n_boot"] == "20"
        # The run opened before the work: its duration covers scoring and evaluation.
        duration = (run.info.end_time - run.info.start_time) / 1000
        assert duration >= m.get("pipeline_seconds", 0.0)
        contexts = {
            d.dataset.name: {tg.value for tg in d.tags}
            for d in run.inputs.dataset_inputs
        }
        assert contexts["mt_bench"] == {"evaluation"}
        if t["routerlab.router"] == "knn":
            # Every resolved hyper-parameter, defaults included, as it ran.
            for key, value in expected["router"].items():
                assert p[f"router_params.{key}"] == str(value), key
            for key, value in expected["labels"].items():
                if not isinstance(value, (list, tuple)):
                    assert p[f"label_params.{key}"] == str(value), key
            assert contexts["arena-labels"] == {"training"}
        else:
            assert p["router_params.seed"] == "0" and "arena-labels" not in contexts

    # The curve as one table across runs.
    table = client.load_table(runs[0].info.experiment_id, "curve_table.json",
                              run_ids=[r.info.run_id for r in runs], extra_columns=["run_id"])
    assert set(table["run_id"]) == {r.info.run_id for r in runs}
    assert {"strong_share", "quality", "curve", "system", "benchmark"} <= set(table.columns)

    # Move the whole ROUTERLAB_HOME: the store still finds every artifact.
    moved = tmp_path / "moved_home"
    shutil.move(str(home), moved)
    monkeypatch.setenv("ROUTERLAB_HOME", str(moved))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{moved / 'mlflow.db'}")
    for run in runs:
        assert tracking.load_text(run.info.run_id, "curve.csv").startswith("strong_share")
    assert len(tracking.load_curve_tables([r.info.run_id for r in runs])) == len(table)


def test_the_cross_run_curve_table_keeps_at_most_1001_of_the_curves_own_points() -> None:
    import numpy as np

    from harness.metrics import call_performance_curve
    from harness.tracking.writer import curve_table, thinned_curve_table

    rng = np.random.default_rng(0)
    n = 5000
    weak, strong = rng.random(n) < 0.6, rng.random(n) < 0.8
    curve = call_performance_curve(rng.random(n), weak.astype(float), strong.astype(float))
    full, thin = curve_table(curve), thinned_curve_table(curve)
    assert len(full) == n + 1 and 900 < len(thin) <= 1001
    # both ends, every row a real point of the curve, in order
    assert thin["strong_share"].iloc[0] == 0.0 and thin["strong_share"].iloc[-1] == 1.0
    merged = thin.merge(full, on=["strong_share", "strong_calls", "quality"], how="left")
    assert merged["threshold_y"].notna().all()
    assert thin["strong_share"].is_monotonic_increasing
    small = call_performance_curve(rng.random(50), weak[:50].astype(float),
                                   strong[:50].astype(float))
    assert len(thinned_curve_table(small)) == len(curve_table(small))  # small curves whole


def test_a_dataset_logged_by_two_workers_at_once_is_linked_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race seen with PostgreSQL workers: MLflow looks a new dataset up, another worker
    inserts it, and this worker's insert hits the unique key. The writer asks again and
    MLflow then links the existing row (a real sqlite store; the first call is made to
    fail as the database did)."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from harness import tracking

    with tracking.open_run("race", {}) as run:
        real = run.client.log_inputs
        calls: list[int] = []

        def first_call_races(*args: object, **kwargs: object) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise MlflowException('duplicate key value violates unique constraint "dataset_pk"')
            real(*args, **kwargs)

        monkeypatch.setattr(run.client, "log_inputs", first_call_races)
        frame = pd.DataFrame({"prompt_id": ["a", "b"], "weak_score": [0.0, 1.0]})
        run.dataset(frame, name="raced", context="evaluation", digest="d" * 40)
        assert calls == []  # datasets wait for the flush: one call per run
        run.flush()
        assert len(calls) == 2
        logged = run.client.get_run(run.run_id).inputs.dataset_inputs
        assert [d.dataset.name for d in logged] == ["raced"]

        def other_error(*args: object, **kwargs: object) -> None:
            raise MlflowException("disk I/O error")

        monkeypatch.setattr(run.client, "log_inputs", other_error)
        run.dataset(frame, name="other", context="evaluation", digest="e" * 40)
        with pytest.raises(MlflowException, match="disk"):
            run.flush()


def test_csv_artifacts_read_back_exactly() -> None:
    import pandas as pd

    frame = pd.DataFrame({
        "prompt_id": ["q1", 'odd, "quoted" id', "q3"],
        "score": [0.1 + 0.2, float("inf"), float("nan")],
    })
    with tracking.parent_run("csv", {}) as run_id:
        writer = tracking.RunWriter(tracking.client(), run_id)
        writer.csv(frame, "scores.csv")
        writer.csv(frame[["score"]], "numbers.csv")
    text = tracking.load_text(run_id, "numbers.csv")
    assert text.splitlines()[:2] == ["score", "0.30000000000000004"]  # no quotes, all digits
    back = tracking.load_csv(run_id, "scores.csv", dtype={"prompt_id": str})
    pd.testing.assert_frame_equal(back, frame)
