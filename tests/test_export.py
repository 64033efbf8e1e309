"""`routerlab export`: a trained router as a registered MLflow model, loaded with
mlflow.pyfunc and served by a real `mlflow models serve` process over HTTP."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.benchmarks import load_benchmark
from harness.serving.server import post_prompts, served_model
from harness.serving.trained import train_router
from routerlab.cli import main

ROUTER_ARGS = ["-r", "knn", "-l", "arena", "--router-param", "k=15",
               "--router-param", "weights=similarity"]


@pytest.mark.slow
def test_exported_router_loads_and_serves_the_same_routes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    assert main(["export", *ROUTER_ARGS, "--threshold", "0.7", "--name", "t-router"]) == 0
    printed = capsys.readouterr().out
    assert "models:/t-router/1" in printed

    gsm8k = load_benchmark("gsm8k", data_dir)
    mmlu = load_benchmark("mmlu", data_dir)
    prompts = list(gsm8k.prompts[:6]) + list(mmlu.prompts[:6])
    trained = train_router("knn", "arena", router_params={"k": 15, "weights": "similarity"},
                           data_dir=data_dir, show_progress=False)
    trained.threshold = 0.7
    expected = trained.route(prompts)
    assert set(expected["route"]) == {"strong", "weak"}  # the check can tell routes apart

    # In process, through MLflow.
    model = mlflow.pyfunc.load_model("models:/t-router/1")
    got = model.predict(pd.DataFrame({"prompt": prompts}))
    assert got["route"].tolist() == expected["route"].tolist()
    assert got["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-5)
    version = mlflow.MlflowClient().get_model_version("t-router", "1")
    run = mlflow.get_run(str(version.run_id))
    assert run.data.params["router_params.k"] == "15"
    assert run.data.params["embedding_model"] == "all-MiniLM-L6-v2"
    assert len(run.data.params["labels_sha256"]) == 64
    assert run.data.tags["routerlab.kind"] == "export"

    # Over HTTP, from a real `mlflow models serve` process.
    with served_model("models:/t-router/1", log_path=tmp_path / "serve.log") as url:
        served = post_prompts(url, prompts)
    assert [p["route"] for p in served] == expected["route"].tolist()
    assert [p["score"] for p in served] == pytest.approx(expected["score"].tolist(), abs=1e-5)


def test_export_needs_a_threshold_or_a_share(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", *ROUTER_ARGS]) == 2
    err = capsys.readouterr().err
    assert "--threshold" in err and "Traceback" not in err
