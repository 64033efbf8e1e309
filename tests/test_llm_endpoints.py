"""Endpoint config files, the call cache and retry/garbage handling (with a tiny real HTTP
server standing in for a flaky API)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.llm import Endpoint, LLMCache, LLMCallError, LLMClient, load_endpoints
from harness.llm.cache import cache_key


def test_toml_and_yaml_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "ep.toml"
    toml.write_text(
        '[endpoints.gpt]\nbase_url = "https://api.example/v1"\nmodel = "gpt-x"\n'
        'api_key_env = "EXAMPLE_KEY"\ninput_per_mtok = 1.5\noutput_per_mtok = 6\n'
    )
    ep = load_endpoints(toml)["gpt"]
    assert ep == Endpoint("gpt", "https://api.example/v1", "gpt-x", "EXAMPLE_KEY", 1.5, 6.0)
    assert ep.cost_usd(1_000_000, 500_000) == pytest.approx(4.5)
    monkeypatch.delenv("EXAMPLE_KEY", raising=False)
    with pytest.raises(ConfigError, match="EXAMPLE_KEY"):
        ep.api_key()
    monkeypatch.setenv("EXAMPLE_KEY", "sk-secret")
    assert ep.api_key() == "sk-secret"
    assert "sk-secret" not in json.dumps(ep.public_dict())
    yaml_file = tmp_path / "ep.yaml"
    yaml_file.write_text(
        "endpoints:\n  local:\n    base_url: http://127.0.0.1:1/v1\n    model: m\n"
    )
    assert load_endpoints(yaml_file)["local"].api_key() == "not-needed"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[endpoints.a]\nmodel = "m"\n', "base_url is missing"),
        ('[endpoints.a]\nbase_url = "u"\nmodel = "m"\napi_key = "sk"\n', "unknown field"),
        ('[endpoints.a]\nbase_url = "u"\nmodel = "m"\ninput_per_mtok = "x"\n', "prices"),
        ("not toml [", "does not parse"),
        ("[other]\n", "no \\[endpoints"),
    ],
)
def test_bad_configs(tmp_path: Path, body: str, match: str) -> None:
    f = tmp_path / "ep.toml"
    f.write_text(body)
    with pytest.raises(ConfigError, match=match):
        load_endpoints(f)


def test_cache_key_covers_every_part() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    base = cache_key("e", "openai", "m", msgs, {"temperature": 1.0}, 0)
    assert base == cache_key("e", "openai", "m", msgs, {"temperature": 1.0}, 0)
    others = {
        cache_key("e2", "openai", "m", msgs, {"temperature": 1.0}, 0),
        cache_key("e", "llama_cpp", "m", msgs, {"temperature": 1.0}, 0),
        cache_key("e", "openai", "m2", msgs, {"temperature": 1.0}, 0),
        cache_key("e", "openai", "m", [{"role": "user", "content": "ho"}], {"temperature": 1.0}, 0),
        cache_key("e", "openai", "m", msgs, {"temperature": 0.5}, 0),
        cache_key("e", "openai", "m", msgs, {"temperature": 1.0}, 1),
    }
    assert base not in others and len(others) == 6


def test_cache_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    c1 = LLMCache(path)
    c1.put("k", "e", "m", {"q": 1}, {"text": "answer"})
    c1.close()
    c2 = LLMCache(path)
    assert c2.get("k") == {"text": "answer"} and len(c2) == 1
    assert c2.get("other") is None


class _Flaky(BaseHTTPRequestHandler):
    """Answers chat completions after `fail_first` 5xx/429 replies; counts requests."""

    fail_first = 0
    status = 500
    content: str | None = "Paris"
    requests = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if type(self).requests <= type(self).fail_first:
            self.send_response(type(self).status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "busy"}}')
            return
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": type(self).content},
                }
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def flaky() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Handler", (_Flaky,), {"requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()


def test_retries_then_succeeds_and_caches(tmp_path: Path, flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.fail_first, handler.status = 2, 503
    client = LLMClient(
        Endpoint("flaky", url, "m"), cache=LLMCache(tmp_path / "c.sqlite"), backoff_s=0.01
    )
    out = client.complete([{"role": "user", "content": "capital of France?"}])
    assert out.text == "Paris" and out.prompt_tokens == 7 and not out.cached
    assert handler.requests == 3
    again = client.complete([{"role": "user", "content": "capital of France?"}])
    assert again.cached and again.text == "Paris" and handler.requests == 3


def test_gives_up_with_a_clear_error(tmp_path: Path, flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.fail_first, handler.status = 100, 429
    client = LLMClient(
        Endpoint("flaky", url, "m"),
        cache=LLMCache(tmp_path / "c.sqlite"),
        backoff_s=0.01,
        max_retries=2,
    )
    with pytest.raises(LLMCallError, match="'flaky'.*after 2 retries"):
        client.complete([{"role": "user", "content": "x"}])
    assert handler.requests == 3


def test_client_error_is_not_retried(tmp_path: Path, flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.fail_first, handler.status = 100, 400
    client = LLMClient(
        Endpoint("flaky", url, "m"), cache=LLMCache(tmp_path / "c.sqlite"), backoff_s=0.01
    )
    with pytest.raises(LLMCallError, match="rejected"):
        client.complete([{"role": "user", "content": "x"}])
    assert handler.requests == 1


def test_empty_answer_is_recorded(tmp_path: Path, flaky: tuple[str, type[_Flaky]]) -> None:
    url, handler = flaky
    handler.content = None
    cache = LLMCache(tmp_path / "c.sqlite")
    client = LLMClient(Endpoint("flaky", url, "m"), cache=cache)
    out = client.run_many(
        client.sample_requests([{"role": "user", "content": "x"}], 3), progress=False
    )
    # Each empty answer is asked once more, then recorded as empty with a flag.
    assert [o.text for o in out] == ["", "", ""] and all(o.empty for o in out)
    assert len(cache) == 3 and handler.requests == 6
