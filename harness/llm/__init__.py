"""The LLM layer: endpoints, the cached OpenAI-compatible client, local models.

Public API::

    from harness.llm import Endpoint, LLMClient, load_endpoints, resolve_endpoint
    client = LLMClient(resolve_endpoint("qwen-0.5b"))
    answer = client.complete([{"role": "user", "content": "2+2?"}], max_tokens=8)
    samples = client.sample(messages, 5, temperature=1.0, logprobs=True)

``harness.llm.local.ensure_server(name)`` serves a local model over HTTP;
``harness.llm.model_pack.install_model(name)`` installs one. Nothing here creates a client
or imports ``openai``/``llama_cpp`` at import time.
"""

from harness.llm.cache import LLMCache
from harness.llm.client import Completion, LLMCallError, LLMClient, Request
from harness.llm.endpoints import Endpoint, load_endpoints, local_endpoint, resolve_endpoint

__all__ = [
    "Completion",
    "Endpoint",
    "LLMCache",
    "LLMCallError",
    "LLMClient",
    "Request",
    "load_endpoints",
    "local_endpoint",
    "resolve_endpoint",
]
