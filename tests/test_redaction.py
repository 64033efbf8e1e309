"""Credentials in URLs never reach a message, a label file's metadata or MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.llm import Endpoint, LLMCache, LLMCallError, LLMClient
from harness.redaction import redact_text, redact_url

SECRET_URL = "http://alice:hunter2@127.0.0.1:9/v1?api_key=sk-abc123&region=eu&token=t0k"


def test_redact_url_masks_user_info_and_key_parameters() -> None:
    out = redact_url(SECRET_URL)
    assert out == "http://***@127.0.0.1:9/v1?api_key=***&region=eu&token=***"
    assert redact_url("https://api.example/v1") == "https://api.example/v1"
    pg = "postgresql+psycopg2://u:pw@db:5432/x"
    assert redact_url(pg) == "postgresql+psycopg2://***@db:5432/x"
    text = f"Connection error while calling {SECRET_URL}: refused"
    assert "hunter2" not in redact_text(text) and "sk-abc123" not in redact_text(text)
    assert redact_text(text).endswith(": refused")


def test_endpoint_error_and_metadata_hold_no_credential(tmp_path: Path) -> None:
    # Port 9 (discard) on localhost: connection refused, so every try fails fast.
    endpoint = Endpoint("secret", SECRET_URL, "m", max_retries=1, backoff_s=0.01)
    assert "hunter2" not in json.dumps(endpoint.public_dict())
    assert "sk-abc123" not in json.dumps(endpoint.public_dict())
    client = LLMClient(endpoint, cache=LLMCache(tmp_path / "c.sqlite"))
    with pytest.raises(LLMCallError) as info:
        client.complete([{"role": "user", "content": "x"}])
    message = str(info.value)
    assert "'secret'" in message and "127.0.0.1:9" in message
    for secret in ("hunter2", "sk-abc123", "t0k"):
        assert secret not in message


def test_mlflow_params_and_tracking_uri_hold_no_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.tracking import display_uri, flatten_params

    params = flatten_params({"endpoint": {"base_url": SECRET_URL}, "note": f"see {SECRET_URL}"})
    assert all("hunter2" not in v and "sk-abc123" not in v for v in params.values())
    assert params["endpoint.base_url"].startswith("http://***@127.0.0.1:9/v1")
    assert display_uri("postgresql://u:pw@db/x") == "postgresql://***@db/x"
