"""Endpoints: which model to call where, at what price.

An endpoint config file (TOML or YAML) declares named endpoints::

    [endpoints.gpt4o-mini]
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"     # the NAME of the variable, never the key
    input_per_mtok = 0.15              # USD per 1M input tokens
    output_per_mtok = 0.60             # USD per 1M output tokens
    timeout_s = 20                     # per request (default 20)
    max_retries = 2                    # after the first try (default 2)
    backoff_s = 1.0                    # first wait; doubles per retry (default 1);
                                       # a server's Retry-After wins when longer

The defaults fail a dead or hanging endpoint within about a minute (3 tries × 20 s plus
1 + 2 s of backoff); a slow but healthy one needs a larger ``timeout_s``.

Names of the local model pack (``qwen-0.5b``, ``qwen-1.5b``, ``smollm2``) resolve without a
config file: by default to the in-process llama.cpp backend (fast token log-probs), or with
the ``server:`` prefix (``server:qwen-0.5b``) to a llama.cpp OpenAI-compatible server the
harness starts on 127.0.0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.redaction import redact_url

KINDS = ("openai", "llama_cpp")


@dataclass(frozen=True)
class Endpoint:
    """One model behind one API.

    Attributes:
        name: how runs, caches and label files name it.
        base_url: the OpenAI-compatible base URL (``.../v1``); for ``kind="llama_cpp"`` the
            ``.gguf`` path.
        model: the model id sent in requests.
        api_key_env: name of the environment variable holding the API key (None: no key).
        input_per_mtok / output_per_mtok: USD per 1M input / output tokens.
        kind: ``openai`` (any OpenAI-compatible server) or ``llama_cpp`` (in process).
        timeout_s: seconds one request may take before it counts as failed.
        max_retries: retries of a failed request (timeouts, connection errors, 429, 5xx,
            bodies that are not a chat completion) before the call fails.
        backoff_s: first wait between tries; doubles each retry.
    """

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    kind: str = "openai"
    timeout_s: float = 20.0
    max_retries: int = 2
    backoff_s: float = 1.0

    @property
    def display_url(self) -> str:
        """``base_url`` with any credentials in it masked: for messages, logs and files."""
        return redact_url(self.base_url)

    def api_key(self) -> str:
        """The key from the environment; local servers accept any placeholder."""
        if not self.api_key_env:
            return "not-needed"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"endpoint {self.name!r}: environment variable {self.api_key_env} "
                "is not set; export it with your API key"
            )
        return key

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1e6

    def public_dict(self) -> dict[str, Any]:
        """What may be logged: everything but the key (which is never held here anyway)."""
        return {
            "name": self.name,
            "base_url": self.display_url,
            "model": self.model,
            "api_key_env": self.api_key_env,
            "input_per_mtok": self.input_per_mtok,
            "output_per_mtok": self.output_per_mtok,
            "kind": self.kind,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "backoff_s": self.backoff_s,
        }


_FIELDS = {
    "base_url",
    "model",
    "api_key_env",
    "input_per_mtok",
    "output_per_mtok",
    "kind",
    "timeout_s",
    "max_retries",
    "backoff_s",
}
# Fault handling: field -> (kind, lowest allowed, highest allowed).
_FAULT_FIELDS: dict[str, tuple[type, float, float]] = {
    "timeout_s": (float, 0.001, 86_400.0),
    "max_retries": (int, 0, 100),
    "backoff_s": (float, 0.0, 3_600.0),
}


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"endpoint config {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            import tomllib

            data = tomllib.loads(text)
    except Exception as exc:  # tomllib/yaml parse errors differ; report either as one line
        raise ConfigError(f"endpoint config {path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"endpoint config {path}: top level must be a table")
    return data


def load_endpoints(path: Path) -> dict[str, Endpoint]:
    """Endpoints declared in a TOML/YAML file under ``[endpoints.NAME]``."""
    path = Path(path)
    data = _read_config(path)
    table = data.get("endpoints")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"endpoint config {path}: no [endpoints.NAME] tables found")
    out: dict[str, Endpoint] = {}
    for name, fields in table.items():
        if not isinstance(fields, dict):
            raise ConfigError(f"endpoint config {path}: endpoints.{name} must be a table")
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ConfigError(
                f"endpoint config {path}: endpoints.{name} has unknown field(s) "
                f"{sorted(unknown)}; allowed: {sorted(_FIELDS)}"
            )
        if "api_key" in fields:
            raise ConfigError(f"endpoint config {path}: put the key in an env var, not the file")
        for required in ("base_url", "model"):
            if not fields.get(required):
                raise ConfigError(f"endpoint config {path}: endpoints.{name}.{required} is missing")
        kind = fields.get("kind", "openai")
        if kind not in KINDS:
            raise ConfigError(
                f"endpoint config {path}: endpoints.{name}.kind must be one of {KINDS}"
            )
        faults: dict[str, Any] = {}
        for field_name, (kind_of, low, high) in _FAULT_FIELDS.items():
            if field_name not in fields:
                continue
            value = fields[field_name]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind_of is int:
                ok = ok and float(value).is_integer()
            if not ok or not low <= value <= high:
                what = "a whole number" if kind_of is int else "a number"
                raise ConfigError(
                    f"endpoint config {path}: endpoints.{name}.{field_name} = {value!r} is not "
                    f"allowed; want {what} from {low:g} to {high:g}"
                )
            faults[field_name] = kind_of(value)
        try:
            out[name] = Endpoint(
                name=name,
                base_url=str(fields["base_url"]),
                model=str(fields["model"]),
                api_key_env=fields.get("api_key_env") or None,
                input_per_mtok=float(fields.get("input_per_mtok", 0.0)),
                output_per_mtok=float(fields.get("output_per_mtok", 0.0)),
                kind=kind,
                **faults,
            )
        except (TypeError, ValueError):
            raise ConfigError(
                f"endpoint config {path}: endpoints.{name} prices must be numbers"
            ) from None
    return out


def local_endpoint(model_name: str) -> Endpoint:
    """The in-process llama.cpp endpoint of a model of the local pack."""
    from harness.llm.model_pack import model_path

    return Endpoint(
        name=model_name, base_url=str(model_path(model_name)), model=model_name, kind="llama_cpp"
    )


def _local_model(spec: str) -> tuple[str, bool] | None:
    """(model of the local pack, as a server?) for ``qwen-0.5b`` / ``server:qwen-0.5b``."""
    from harness.llm.model_pack import MODEL_PACK

    model = spec.removeprefix("server:")
    return (model, model != spec) if model in MODEL_PACK else None


def endpoint_identity(spec: str, config: Path | None = None) -> tuple[str, str]:
    """The (name, model) :func:`resolve_endpoint` gives for ``spec``, without loading a model
    or starting a server: enough to look answers up in a cache or reply store."""
    local = _local_model(spec)
    if local is not None:
        return spec, local[0]
    endpoint = resolve_endpoint(spec, config)
    return endpoint.name, endpoint.model


def resolve_endpoint(
    spec: str, config: Path | None = None, *, n_threads: int | None = None
) -> Endpoint:
    """An endpoint from a name: a local model (``qwen-0.5b``), ``server:<local model>``
    (starts a llama.cpp server with ``n_threads`` threads), or a name declared in ``config``."""
    from harness.llm.model_pack import MODEL_PACK

    local = _local_model(spec)
    if local is not None and local[1]:
        from harness.llm.local import ensure_server

        return ensure_server(local[0], n_threads=n_threads)
    if local is not None:
        return local_endpoint(spec)
    if config is None:
        raise ConfigError(
            f"endpoint {spec!r} is not a local model ({', '.join(MODEL_PACK)}); "
            "declare it in an endpoint config file and pass --endpoints FILE"
        )
    endpoints = load_endpoints(config)
    if spec not in endpoints:
        raise ConfigError(
            f"endpoint {spec!r} is not declared in {config}; declared: {sorted(endpoints)}"
        )
    return endpoints[spec]
