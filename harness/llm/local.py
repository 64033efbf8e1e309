"""Local llama.cpp servers for models of the pack, started and stopped by the harness.

``ensure_server("smollm2")`` starts ``python -m llama_cpp.server`` on 127.0.0.1 on a free
port (once per model and process), waits until ``/v1/models`` answers, and returns an
:class:`~harness.llm.endpoints.Endpoint` for the OpenAI client. Servers stop when the
process exits; :class:`LocalServer` is the context-manager form for a scoped server.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from harness.errors import ConfigError
from harness.llm.endpoints import Endpoint
from harness.llm.model_pack import model_path

log = logging.getLogger(__name__)

_SERVERS: dict[str, LocalServer] = {}
_LOCK = threading.Lock()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """One ``llama_cpp.server`` process serving one model on 127.0.0.1.

    Args:
        model: a model name of the pack (``smollm2``, ``qwen-0.5b``, ``qwen-1.5b``).
        n_ctx: context length.
        n_threads: CPU threads (default: all cores).
        startup_timeout_s: how long to wait for the server to answer.
    """

    def __init__(
        self,
        model: str,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.model = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads or (os.cpu_count() or 1)
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self) -> Endpoint:
        # The name carries "server:" so its cache entries stay apart from the in-process ones.
        # A CPU model shared with other work can take minutes on one long answer: the
        # one-minute defaults for remote APIs would fail healthy local calls.
        return Endpoint(
            name=f"server:{self.model}",
            base_url=self.base_url,
            model=self.model,
            timeout_s=600.0,
            max_retries=1,
        )

    def start(self) -> LocalServer:
        if self._proc is not None and self._proc.poll() is None:
            return self
        try:
            import llama_cpp.server  # noqa: F401  (checked here for a clear error)
        except ImportError:
            raise ConfigError(
                "llama-cpp-python[server] is not installed; run "
                "`pip install 'llama-cpp-python[server]==0.3.36'` (or `pip install -e .[local]`)"
            ) from None
        path = model_path(self.model)
        self.port = free_port()
        fd, log_name = tempfile.mkstemp(prefix=f"llama-server-{self.model}-", suffix=".log")
        self._log_file = Path(log_name)
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--model_alias",
            self.model,
        ]
        with os.fdopen(fd, "wb") as logf:
            self._proc = subprocess.Popen(
                cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log_file.read_text(errors="replace").strip().splitlines()[-3:]
                raise ConfigError(
                    f"llama.cpp server for {self.model} exited "
                    f"({self._proc.returncode}): {' | '.join(tail)}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        log.info("llama.cpp server for %s on port %d", self.model, self.port)
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise ConfigError(
            f"llama.cpp server for {self.model} did not answer within "
            f"{self.startup_timeout_s:.0f}s (log: {self._log_file})"
        )

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log_file is not None and self._log_file.exists():
            self._log_file.unlink()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Endpoint:
        return self.start().endpoint()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def ensure_server(model_name: str, *, n_threads: int | None = None) -> Endpoint:
    """A running server for ``model_name`` (started on first use, stopped at exit)."""
    with _LOCK:
        server = _SERVERS.get(model_name)
        if server is None or not server.running:
            server = LocalServer(model_name, n_threads=n_threads).start()
            _SERVERS[model_name] = server
        return server.endpoint()


def stop_all_servers() -> None:
    with _LOCK:
        for server in _SERVERS.values():
            server.stop()
        _SERVERS.clear()


atexit.register(stop_all_servers)
