"""Start ``mlflow models serve`` on a free local port and wait until it answers.

Used by the export test and ``bench/routing_latency.py``; a user runs the same command
(``routerlab export`` prints it). The scoring server is started from PATH as ``uvicorn``,
as in an activated virtual environment, so this process's ``bin`` folder goes first on PATH.
"""

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlflow_command() -> list[str]:
    """``mlflow`` as installed; where the installed routerlab predates its artifact-scheme
    entry point (an editable install made before it existed), the same CLI with the
    ``routerlab-home:`` scheme registered first."""
    points = importlib.metadata.entry_points(group="mlflow.artifact_repository")
    if any(p.name == "routerlab-home" for p in points):
        return [str(Path(sys.executable).with_name("mlflow"))]
    return [sys.executable, "-c",
            "import sys; from harness.tracking.store import register_home_scheme; "
            "register_home_scheme(); from mlflow.cli import cli; sys.argv[0] = 'mlflow'; cli()"]


@contextmanager
def served_model(model_uri: str, *, log_path: Path, timeout: float = 300) -> Iterator[str]:
    """``mlflow models serve -m model_uri --env-manager local`` on 127.0.0.1; yields its URL
    once ``/ping`` answers and stops the server (its whole process group) afterwards."""
    port = free_port()
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*mlflow_command(), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "--host", "127.0.0.1", "-p", str(port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/ping", timeout=5):
                        break
                except OSError:
                    if server.poll() is not None:
                        raise RuntimeError(
                            f"mlflow models serve exited: {log_path.read_text()[-3000:]}"
                        ) from None
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"mlflow models serve not up after {timeout:.0f} s"
                        ) from None
                    time.sleep(1)
            yield url
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)


def post_prompts(url: str, prompts: Sequence[str]) -> list[dict[str, Any]]:
    """The served model's predictions for ``prompts`` (one HTTP request)."""
    body = json.dumps({"dataframe_records": [{"prompt": p} for p in prompts]}).encode()
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return list(json.loads(response.read())["predictions"])
