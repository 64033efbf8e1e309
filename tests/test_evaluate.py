"""`routerlab evaluate` end to end: printed summaries, JSON, and the MLflow runs it writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import data as data_files
from harness.benchmarks import load_benchmark
from harness.errors import ConfigError, DataError
from harness.evaluation import evaluate_scores, read_scores_file
from harness.systems import SystemSpec, score_system
from routerlab.cli import main


def client():  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_cli_writes_an_mlflow_run(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        ["evaluate", "--benchmark", "gsm8k", "--router", "random", "--seed", "3",
         "--n-boot", "200", "--json"],
        capsys,
    )
    assert out["mlflow_parent_run_id"] is None
    (res,) = out["results"]
    for key in ("cpt_20", "cpt_50", "cpt_80", "cpt_20_lo", "cpt_50_hi", "cpt_80_lo", "apgr",
                "weak", "strong", "oracle", "oracle_cpt_50"):
        assert isinstance(res[key], float)
    assert res["n"] == 1307
    assert res["cpt_50_lo"] <= res["cpt_50"] <= res["cpt_50_hi"]

    c = client()
    run = c.get_run(res["mlflow_run_id"])
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert p["router"] == "random" and p["router_params.seed"] == "3"
    assert p["benchmark"] == "gsm8k" and p["n_prompts"] == "1307" and p["seed"] == "3"
    assert p["strong_model"] == "gpt-4-1106-preview"
    assert p["weak_model"] == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert p["data_sha256.gsm8k_responses.csv"] == data_files.sha256_of(
        "routellm/gsm8k/gsm8k_responses.csv"
    )
    assert m["cpt_50"] == pytest.approx(res["cpt_50"])
    assert m["apgr"] == pytest.approx(res["apgr"])
    assert t["routerlab.system"] == "random" and t["routerlab.router"] == "random"
    assert t["routerlab.benchmark"] == "gsm8k" and t["routerlab.label_source"] == "none"
    assert t["routerlab.task"] == "gsm8k"  # read by the report to pick paper columns
    artifacts = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"curve.csv", "oracle_curve.csv", "curve.png", "data_sha256.json"} <= artifacts
    history = c.get_metric_history(run.info.run_id, "curve_quality")
    assert sorted(h.step for h in history) == list(range(0, 101, 5))  # step = % strong
    curve = pd.read_csv(c.download_artifacts(run.info.run_id, "curve.csv"))
    assert len(curve) == 1308  # distinct random scores: every share is a point
    assert curve["quality"].iloc[0] == pytest.approx(res["weak"])
    assert curve["quality"].iloc[-1] == pytest.approx(res["strong"])
    png = Path(c.download_artifacts(run.info.run_id, "curve.png")).read_bytes()
    assert png.startswith(b"\x89PNG")


def test_several_benchmarks_are_child_runs(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(
        ["evaluate", "--benchmark", "mt_bench,gsm8k", "--router", "oracle", "--n-boot", "50",
         "--json"],
        capsys,
    )
    parent = out["mlflow_parent_run_id"]
    assert parent
    children = client().search_runs(
        [client().get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
    )
    assert {r.data.tags["routerlab.benchmark"] for r in children} == {"mt_bench", "gsm8k"}
    assert {r.info.run_id for r in children} == {r["mlflow_run_id"] for r in out["results"]}
    by_name = {r["benchmark"]: r for r in out["results"]}
    assert by_name["gsm8k"]["cpt_50"] < 12


def test_table_output_and_no_mlflow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate", "-b", "mt_bench", "--router", "random", "--n-boot", "20",
                 "--no-mlflow"]) == 0
    out = capsys.readouterr().out
    assert "CPT(50%)" in out and "mt_bench" in out and "8.281" in out and "9.212" in out
    assert "MLflow" not in out
    assert not (Path(os.environ["ROUTERLAB_HOME"]) / "mlflow.db").exists()


def test_scores_router_on_custom_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "mini.csv"
    pd.DataFrame({
        "id": ["a", "b", "c", "d"],
        "prompt": ["p1", "p2", "p3", "p4"],
        "weak": [1, 0, 0, 1],
        "strong": [1, 1, 1, 1],
    }).to_csv(bench, index=False)
    scores = tmp_path / "s.jsonl"
    pd.DataFrame({"prompt": ["p4", "p3", "p2", "p1", "extra"],
                  "score": [0.1, 0.8, 0.9, 0.2, 0.5]}).to_json(scores, orient="records", lines=True)
    out = run_json(
        ["evaluate", "-b", str(bench), "--router", "scores", "--scores-file", str(scores),
         "--n-boot", "0", "--json", "--no-mlflow"],
        capsys,
    )
    (res,) = out["results"]
    assert out["system"] == "scores:s"
    assert res["benchmark"] == "mini" and res["n"] == 4
    # p2 and p3 (the two weak failures) come first: 50 % of calls recover the whole gap.
    assert res["cpt_50"] == pytest.approx(25.0)
    assert res["cpt_80"] == pytest.approx(40.0)
    assert res["cpt_50_lo"] is None  # no bootstrap asked


def test_scores_file_errors(tmp_path: Path) -> None:
    bench = load_benchmark("mt_bench")
    path = tmp_path / "s.csv"
    pd.DataFrame({"id": bench.prompt_ids[:-1], "score": 0.5}).to_csv(path, index=False)
    with pytest.raises(DataError, match="no score for 1 of 72"):
        read_scores_file(path, bench)
    pd.DataFrame({"id": bench.prompt_ids, "value": 0.5}).to_csv(path, index=False)
    with pytest.raises(DataError, match="missing column 'score'"):
        read_scores_file(path, bench)
    pd.DataFrame({"id": bench.prompt_ids, "score": [np.nan] + [0.5] * 71}).to_csv(path, index=False)
    with pytest.raises(DataError, match="'score' row 0"):
        read_scores_file(path, bench)
    pd.DataFrame({"id": bench.prompt_ids, "score": np.linspace(0, 1, 72)}).to_csv(path, index=False)
    np.testing.assert_allclose(read_scores_file(path, bench), np.linspace(0, 1, 72))


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "-b", "gsm9k", "--no-mlflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Did you mean 'gsm8k'" in err
    assert main(["evaluate", "-b", "gsm8k", "--router", "knn", "--no-mlflow"]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["evaluate", "-b", "gsm8k", "--router", "scores", "--no-mlflow"]) == 2
    assert "--scores-file" in capsys.readouterr().err


def test_evaluate_scores_without_mlflow_and_secret_params() -> None:
    bench = load_benchmark("mt_bench")
    routed = score_system(SystemSpec("random"), bench)
    r = evaluate_scores(bench, routed.scores, system="random", params=routed.params, seed=0,
                        n_boot=10, log_to_mlflow=False)
    assert r.run_id is None and r.metrics["n"] == 72
    with pytest.raises(ValueError):
        evaluate_scores(bench, routed.scores[:-1], system="x", params={}, seed=0,
                        log_to_mlflow=False)
    with pytest.raises(ConfigError):
        score_system(SystemSpec("scores"), bench)


def test_plugins_lists_registries(capsys: pytest.CaptureFixture[str]) -> None:
    main(["plugins"])
    out = capsys.readouterr().out
    assert "random" in out and "gsm8k" in out and "mt_bench" in out
