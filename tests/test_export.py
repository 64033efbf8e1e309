"""`routerlab export`: a trained router as a registered MLflow model, loaded with
mlflow.pyfunc and served by a real `mlflow models serve` process over HTTP."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from harness.benchmarks import load_benchmark
from harness.serving.trained import train_router
from routerlab.cli import main

ROUTER_ARGS = ["-r", "knn", "-l", "arena", "--router-param", "k=15",
               "--router-param", "weights=similarity"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mlflow_cli() -> list[str]:
    """`mlflow` as installed; where the installed routerlab predates its artifact-scheme
    entry point (an editable install made before it existed), the same CLI with the scheme
    registered first."""
    points = importlib.metadata.entry_points(group="mlflow.artifact_repository")
    if any(p.name == "routerlab-home" for p in points):
        return [str(Path(sys.executable).with_name("mlflow"))]
    return [sys.executable, "-c",
            "import sys; from harness.tracking.store import register_home_scheme; "
            "register_home_scheme(); from mlflow.cli import cli; sys.argv[0] = 'mlflow'; cli()"]


def _post(port: int, prompts: list[str]) -> list[dict[str, object]]:
    body = json.dumps({"dataframe_records": [{"prompt": p} for p in prompts]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return list(json.loads(response.read())["predictions"])


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
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    # The scoring server starts `uvicorn` from PATH, as in an activated virtual environment.
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(
        [*_mlflow_cli(), "models", "serve", "-m", "models:/t-router/1", "--env-manager",
         "local", "--host", "127.0.0.1", "-p", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "mlflow models serve did not come up"
                time.sleep(2)
        served = _post(port, prompts)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        log.close()
    assert [p["route"] for p in served] == expected["route"].tolist()
    assert [p["score"] for p in served] == pytest.approx(expected["score"].tolist(), abs=1e-5)


def test_export_needs_a_threshold_or_a_share(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", *ROUTER_ARGS]) == 2
    err = capsys.readouterr().err
    assert "--threshold" in err and "Traceback" not in err
