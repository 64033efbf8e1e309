"""Endpoint faults, against a small real HTTP server on 127.0.0.1 that misbehaves on cue:
hangs, asks for Retry-After, answers HTML, invalid JSON, no choices or empty content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.llm import Endpoint, LLMCache, LLMCallError, LLMClient, load_endpoints

QUESTION = [{"role": "user", "content": "capital of France?"}]


def completion(content: str | None = "Paris", choices: bool = True) -> bytes:
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ]
        if choices
        else [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    return json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}


class Script(BaseHTTPRequestHandler):
    """Replies with ``replies[i]`` to the i-th request (the last one repeats); ``None``
    hangs until the server stops. Records when each request came."""

    replies: list[tuple[int, dict[str, str], bytes] | None] = []
    times: list[float] = []
    release = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        cls = type(self)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls.times.append(time.monotonic())
        reply = cls.replies[min(len(cls.times), len(cls.replies)) - 1]
        if reply is None:
            cls.release.wait(300)
            return
        status, headers, body = reply
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, type[Script]]]:
    handler = type("Handler", (Script,), {"times": [], "release": threading.Event()})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", handler
    handler.release.set()
    srv.shutdown()


def _client(url: str, tmp_path: Path, **kw: object) -> LLMClient:
    endpoint = Endpoint("fake", url, "m", backoff_s=0.01)
    return LLMClient(endpoint, cache=LLMCache(tmp_path / "c.sqlite"), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        (200, {"Content-Type": "text/html"}, b"<html><body>Gateway says hi</body></html>"),
        (200, JSON, b"{not json"),
        (200, JSON, completion(choices=False)),
    ],
    ids=["html", "invalid-json", "no-choices"],
)
def test_unusable_200_replies_are_retried(
    tmp_path: Path, server: tuple[str, type[Script]], bad: tuple[int, dict[str, str], bytes]
) -> None:
    url, handler = server
    handler.replies = [bad, (200, JSON, completion("Paris"))]
    out = _client(url, tmp_path).complete(QUESTION)
    assert out.text == "Paris" and len(handler.times) == 2


def test_unusable_replies_fail_with_one_line_after_the_retries(
    tmp_path: Path, server: tuple[str, type[Script]]
) -> None:
    url, handler = server
    handler.replies = [(200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")]
    with pytest.raises(LLMCallError) as info:
        _client(url, tmp_path, max_retries=1).complete(QUESTION)
    assert len(handler.times) == 2
    message = str(info.value)
    assert "'fake'" in message and "not a chat completion" in message and "\n" not in message


def test_retry_after_is_honoured(tmp_path: Path, server: tuple[str, type[Script]]) -> None:
    url, handler = server
    busy = (429, {**JSON, "Retry-After": "2"}, b'{"error": {"message": "slow down"}}')
    handler.replies = [busy, (200, JSON, completion("Paris"))]
    assert _client(url, tmp_path).complete(QUESTION).text == "Paris"
    assert handler.times[1] - handler.times[0] >= 2.0  # backoff alone would be 0.01 s


def test_empty_content_is_asked_once_more(tmp_path: Path, server: tuple[str, type[Script]]) -> None:
    url, handler = server
    handler.replies = [(200, JSON, completion(None)), (200, JSON, completion("Paris"))]
    out = _client(url, tmp_path).complete(QUESTION)
    assert out.text == "Paris" and not out.empty and len(handler.times) == 2


def test_empty_twice_is_recorded_with_a_flag_and_asked_again_later(
    tmp_path: Path, server: tuple[str, type[Script]]
) -> None:
    url, handler = server
    handler.replies = [(200, JSON, completion(""))]
    client = _client(url, tmp_path)
    out = client.complete(QUESTION)
    assert out.text == "" and out.empty and len(handler.times) == 2
    (stored,) = [client.cache.get(client.key(r)) for r in [client_request(client)]]
    assert stored is not None and stored["empty"] is True
    # Not reused as a normal answer: the next run asks again (and gets a real one now).
    handler.replies = [(200, JSON, completion("Paris"))]
    handler.times.clear()
    again = client.complete(QUESTION)
    assert again.text == "Paris" and not again.cached and len(handler.times) == 1
    assert client.complete(QUESTION).cached


def client_request(client: LLMClient) -> object:
    from harness.llm.client import Request

    return Request.make(QUESTION)


def test_fault_settings_come_from_the_endpoint_file(tmp_path: Path) -> None:
    f = tmp_path / "ep.toml"
    f.write_text(
        '[endpoints.a]\nbase_url = "http://h/v1"\nmodel = "m"\n'
        "timeout_s = 5\nmax_retries = 0\nbackoff_s = 0.5\n"
    )
    ep = load_endpoints(f)["a"]
    assert (ep.timeout_s, ep.max_retries, ep.backoff_s) == (5.0, 0, 0.5)
    client = LLMClient(ep, cache=LLMCache(tmp_path / "c.sqlite"))
    assert (client.timeout_s, client.max_retries, client.backoff_s) == (5.0, 0, 0.5)
    for bad in ("timeout_s = 0", "max_retries = 1.5", 'backoff_s = "x"', "max_retries = -1"):
        f.write_text(f'[endpoints.a]\nbase_url = "http://h/v1"\nmodel = "m"\n{bad}\n')
        with pytest.raises(ConfigError, match=f"endpoints.a.{bad.split()[0]}"):
            load_endpoints(f)


def test_a_timeout_is_bounded_by_the_endpoint_settings(
    tmp_path: Path, server: tuple[str, type[Script]]
) -> None:
    url, handler = server
    handler.replies = [None]
    client = LLMClient(
        Endpoint("fake", url, "m", timeout_s=0.5, max_retries=1, backoff_s=0.01),
        cache=LLMCache(tmp_path / "c.sqlite"),
    )
    started = time.monotonic()
    with pytest.raises(LLMCallError, match="still failing after 1 retries"):
        client.complete(QUESTION)
    assert time.monotonic() - started < 5 and len(handler.times) == 2
    # The endpoint is now known to be down: the next call fails at once, sending nothing.
    started = time.monotonic()
    with pytest.raises(LLMCallError, match="still failing"):
        client.complete([{"role": "user", "content": "another question"}])
    assert time.monotonic() - started < 0.5 and len(handler.times) == 2


@pytest.mark.slow
def test_hanging_endpoint_fails_labels_se_with_one_line_within_90s(
    tmp_path: Path, server: tuple[str, type[Script]], data_dir: Path
) -> None:
    url, handler = server
    handler.replies = [None]  # accepts the request, never answers
    endpoints = tmp_path / "ep.toml"
    endpoints.write_text(f'[endpoints.fake]\nbase_url = "{url}"\nmodel = "m"\n')  # defaults
    cmd = [
        sys.executable, "-c", "import sys; from routerlab.cli import main; sys.exit(main())",
        "labels", "se", "--weak", "fake", "--strong", "fake", "--nli", "llm:fake",
        "--endpoints", str(endpoints), "--limit", "2", "--samples", "2",
        "--llm-cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path / "labels.parquet"),
    ]
    started = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "ROUTERLAB_DATA_DIR": str(data_dir)},
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert elapsed < 90, (elapsed, proc.stderr[-3000:])
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("routerlab: error: endpoint 'fake'"), proc.stderr[-2000:]
    assert "still failing after 2 retries" in last and "Traceback" not in proc.stderr
    assert not (tmp_path / "labels.parquet").exists()


def _slow_ok(handler: type[Script], seconds: float) -> None:
    """Every request answered after ``seconds`` (a request in flight for a while)."""

    class Slow(list):  # type: ignore[type-arg]
        def __getitem__(self, i):  # type: ignore[no-untyped-def]
            time.sleep(seconds)
            return (200, JSON, completion("Paris"))

    handler.replies = Slow([None])


def test_two_processes_sharing_a_cache_send_each_request_once(
    tmp_path: Path, server: tuple[str, type[Script]]
) -> None:
    url, handler = server
    _slow_ok(handler, 1.0)
    cache = tmp_path / "shared.sqlite"
    code = (
        "from harness.llm import Endpoint, LLMCache, LLMClient\n"
        f"c = LLMClient(Endpoint('fake', {url!r}, 'm'), cache=LLMCache({str(cache)!r}),"
        " max_concurrency=2)\n"
        "reqs = c.sample_requests([{'role': 'user', 'content': 'capital?'}], 8)\n"
        "out = c.run_many(reqs, progress=False)\n"
        "print(len(out), sum(o.text == 'Paris' for o in out))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.split() == ["8", "8"]
    assert len(handler.times) == 8  # not 16: the second process waited for the first's answers


def test_processes_opening_one_new_cache_at_once_all_start(tmp_path: Path) -> None:
    # Switching a new sqlite file to WAL takes an exclusive lock that sqlite's busy timeout
    # does not wait for: before enable_wal, about 1 in 30 of six processes opening one new
    # cache at the same instant died with "database is locked".
    for trial in range(6):
        path = tmp_path / f"c{trial}.sqlite"
        start = time.time() + 1.5
        code = (
            "import time\nfrom harness.llm.cache import LLMCache\n"
            f"time.sleep(max(0.0, {start} - time.time()))\nLLMCache({str(path)!r})\n"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
            for _ in range(8)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-500:]


def test_a_dead_claimants_call_is_taken_over_at_once(
    tmp_path: Path, server: tuple[str, type[Script]]
) -> None:
    url, handler = server
    handler.replies = [(200, JSON, completion("Paris"))]
    client = _client(url, tmp_path)
    key = client.key(client_request(client))  # type: ignore[arg-type]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{os.uname().nodename}:{dead.pid}:1"
    assert client.cache.claim(key, owner, 3600)  # claimed by a process that died (SIGKILL)
    started = time.monotonic()
    assert client.complete(QUESTION).text == "Paris"
    assert time.monotonic() - started < 5 and len(handler.times) == 1
    # ... while a live claimant's call is waited for (here: until its claim expires).
    # (A 3 s lease: a shorter one can lapse between two statements on a loaded machine.)
    assert client.cache.claim("other", "elsewhere:1:x", 3)
    assert not client.cache.claim("other", "elsewhere:2:y", 10)
    time.sleep(3.1)
    assert client.cache.claim("other", "elsewhere:2:y", 10)
