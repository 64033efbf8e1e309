"""A cached, retrying LLM client for OpenAI-compatible endpoints and in-process llama.cpp.

``LLMClient(endpoint).complete(messages, ...)`` returns a :class:`Completion`;
``sample(messages, n, ...)`` draws ``n`` answers as separate requests with distinct seeds
(llama.cpp and others ignore ``n>1``); ``run_many(requests)`` runs a batch with bounded
concurrency and a progress bar showing calls done, cache hits and tokens.

Every call is looked up in / written to the :class:`~harness.llm.cache.LLMCache` before and
after it runs, one commit per call. Errors: 429, 5xx, timeouts and connection errors are
retried with exponential backoff, then raise :class:`LLMCallError` naming the endpoint; an
empty or garbled answer is a normal :class:`Completion` (``text=""``), recorded in the cache.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.errors import RouterlabError
from harness.llm.cache import LLMCache, cache_key, default_cache_path
from harness.llm.endpoints import Endpoint

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


class LLMCallError(RouterlabError):
    """An endpoint kept failing after all retries."""


@dataclass
class Completion:
    """One answer.

    Attributes:
        text: the answer text ("" when the model returned nothing usable).
        token_logprobs: log-probability of each answer token, when the endpoint gives them.
        prompt_tokens / completion_tokens: token usage as the endpoint reported it.
        finish_reason: "stop", "length", ... as reported.
        cached: True when read from the cache instead of calling the endpoint.
    """

    text: str
    token_logprobs: list[float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    cached: bool = False

    def mean_logprob(self) -> float | None:
        """Length-normalised log-likelihood (mean token log-prob); None without log-probs."""
        if not self.token_logprobs:
            return None
        return float(sum(self.token_logprobs) / len(self.token_logprobs))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cached")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], *, cached: bool = False) -> Completion:
        return cls(
            text=str(d.get("text") or ""),
            token_logprobs=d.get("token_logprobs"),
            prompt_tokens=int(d.get("prompt_tokens") or 0),
            completion_tokens=int(d.get("completion_tokens") or 0),
            finish_reason=d.get("finish_reason"),
            cached=cached,
        )


@dataclass(frozen=True)
class Request:
    """One call: messages, sampling parameters, seed and sample index (part of the key)."""

    messages: tuple[tuple[str, str], ...]
    temperature: float = 0.0
    max_tokens: int = 64
    seed: int = 0
    logprobs: bool = False
    sample_index: int = 0
    stop: tuple[str, ...] = ()

    @classmethod
    def make(cls, messages: Messages, **kw: Any) -> Request:
        return cls(
            messages=tuple((m["role"], m["content"]) for m in messages),
            stop=tuple(kw.pop("stop", None) or ()),
            **kw,
        )

    def message_list(self) -> Messages:
        return [{"role": r, "content": c} for r, c in self.messages]

    def params(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "logprobs": self.logprobs,
            "stop": list(self.stop),
        }


@dataclass
class UsageCounter:
    """Calls and tokens: ``prompt_tokens``/``completion_tokens`` spent by this process,
    ``total_*`` including answers read from the cache (what the results cost to make)."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, c: Completion) -> None:
        with self.lock:
            self.calls += 1
            self.total_prompt_tokens += c.prompt_tokens
            self.total_completion_tokens += c.completion_tokens
            if c.cached:
                self.cache_hits += 1
            else:
                self.prompt_tokens += c.prompt_tokens
                self.completion_tokens += c.completion_tokens


def _is_retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


class LLMClient:
    """Cached calls to one endpoint.

    Args:
        endpoint: where to send requests.
        cache: the call cache (default: ``cache_dir()/llm_cache.sqlite``).
        max_concurrency: parallel requests in :meth:`run_many` (in-process models run one
            request at a time whatever this says).
        max_retries: retries on 429/5xx/timeouts before :class:`LLMCallError`.
        backoff_s: first backoff; doubles each retry, with jitter.
        timeout_s: per-request timeout.
        n_threads: CPU threads of an in-process model (default: all cores).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        cache: LLMCache | None = None,
        max_concurrency: int = 4,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 120.0,
        n_threads: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.cache = cache if cache is not None else LLMCache(default_cache_path())
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.n_threads = n_threads
        self.usage = UsageCounter()
        self._openai: Any = None
        self._inprocess: Any = None
        self._init_lock = threading.Lock()

    # -- transports -------------------------------------------------------------------
    def _openai_client(self) -> Any:
        with self._init_lock:
            if self._openai is None:
                import openai

                self._openai = openai.OpenAI(
                    base_url=self.endpoint.base_url,
                    api_key=self.endpoint.api_key(),
                    timeout=self.timeout_s,
                    max_retries=0,
                )
        return self._openai

    def _call_openai(self, req: Request) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": req.message_list(),
            "temperature": req.temperature,
            "max_tokens": req.max_tokens,
            "seed": req.seed,
        }
        if req.stop:
            kwargs["stop"] = list(req.stop)
        if req.logprobs:
            # llama.cpp's server returns log-probs only when top_logprobs is set too.
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = 1
        resp = self._openai_client().chat.completions.create(**kwargs)
        choice = resp.choices[0] if resp.choices else None
        text = (choice.message.content or "") if choice is not None and choice.message else ""
        lps = None
        if req.logprobs and choice is not None and choice.logprobs is not None:
            lps = [float(t.logprob) for t in (choice.logprobs.content or [])]
        usage = resp.usage
        return Completion(
            text=text,
            token_logprobs=lps,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=getattr(choice, "finish_reason", None),
        )

    def _call_inprocess(self, req: Request) -> Completion:
        with self._init_lock:
            if self._inprocess is None:
                from harness.llm.inprocess import LlamaInProcess

                self._inprocess = LlamaInProcess(self.endpoint.base_url, n_threads=self.n_threads)
        out = self._inprocess.chat(
            req.message_list(),
            temperature=req.temperature,
            max_tokens=req.max_tokens,
            seed=req.seed,
            logprobs=req.logprobs,
            stop=list(req.stop),
        )
        return Completion.from_json(out)

    def _call_with_retries(self, req: Request) -> Completion:
        if self.endpoint.kind == "llama_cpp":
            return self._call_inprocess(req)
        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            try:
                return self._call_openai(req)
            except Exception as exc:
                if not _is_retryable(exc):
                    raise LLMCallError(
                        f"endpoint {self.endpoint.name!r} ({self.endpoint.base_url}) rejected the "
                        f"request: {type(exc).__name__}: {exc}"
                    ) from exc
                if attempt == self.max_retries:
                    raise LLMCallError(
                        f"endpoint {self.endpoint.name!r} ({self.endpoint.base_url}) still failing "
                        f"after {self.max_retries} retries: {type(exc).__name__}: {exc}"
                    ) from exc
                log.warning(
                    "%s: %s; retry %d in %.1fs",
                    self.endpoint.name,
                    type(exc).__name__,
                    attempt + 1,
                    delay,
                )
                time.sleep(delay * (1 + 0.25 * random.random()))
                delay *= 2
        raise AssertionError("unreachable")

    # -- public API -------------------------------------------------------------------
    def key(self, req: Request) -> str:
        return cache_key(
            self.endpoint.name,
            self.endpoint.kind,
            self.endpoint.model,
            req.message_list(),
            req.params(),
            req.sample_index,
        )

    def lookup(self, req: Request) -> Completion | None:
        """The cached answer to ``req``, or None (never calls the endpoint)."""
        hit = self.cache.get(self.key(req))
        return None if hit is None else Completion.from_json(hit, cached=True)

    def call(self, req: Request) -> Completion:
        """One request through the cache."""
        hit = self.lookup(req)
        if hit is not None:
            self.usage.add(hit)
            return hit
        out = self._call_with_retries(req)
        self.cache.put(
            self.key(req),
            self.endpoint.name,
            self.endpoint.model,
            {
                "messages": req.message_list(),
                "params": req.params(),
                "sample_index": req.sample_index,
            },
            out.to_json(),
        )
        self.usage.add(out)
        return out

    def complete(
        self,
        messages: Messages,
        *,
        temperature: float = 0.0,
        max_tokens: int = 64,
        seed: int = 0,
        logprobs: bool = False,
        stop: Sequence[str] | None = None,
        sample_index: int = 0,
    ) -> Completion:
        """One completion (greedy by default)."""
        return self.call(
            Request.make(
                messages,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=seed,
                logprobs=logprobs,
                stop=stop,
                sample_index=sample_index,
            )
        )

    def sample_requests(
        self,
        messages: Messages,
        n: int,
        *,
        temperature: float = 1.0,
        max_tokens: int = 64,
        seed: int = 0,
        logprobs: bool = True,
        stop: Sequence[str] | None = None,
    ) -> list[Request]:
        """The ``n`` requests :meth:`sample` sends: seeds ``seed..seed+n-1``, indices 0..n-1."""
        return [
            Request.make(
                messages,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=seed + i,
                logprobs=logprobs,
                stop=stop,
                sample_index=i,
            )
            for i in range(n)
        ]

    def sample(self, messages: Messages, n: int, **kw: Any) -> list[Completion]:
        """``n`` answers as separate requests with distinct seeds."""
        return [self.call(r) for r in self.sample_requests(messages, n, **kw)]

    def run_many(
        self, requests: Sequence[Request], *, desc: str | None = None, progress: bool = True
    ) -> list[Completion]:
        """All ``requests`` (cache first), with bounded concurrency and a progress bar."""
        from tqdm.auto import tqdm

        results: list[Completion | None] = [None] * len(requests)
        todo: list[int] = []
        hits = 0
        for i, r in enumerate(requests):
            c = self.lookup(r)
            if c is None:
                todo.append(i)
            else:
                results[i] = c
                self.usage.add(c)
                hits += 1
        bar = tqdm(
            total=len(requests),
            initial=hits,
            desc=desc or self.endpoint.name,
            disable=not progress,
            unit="call",
        )
        tokens = 0

        def one(i: int) -> None:
            nonlocal tokens
            c = self.call(requests[i])
            results[i] = c
            tokens += c.prompt_tokens + c.completion_tokens
            bar.update(1)
            bar.set_postfix(cache_hits=hits, tokens=tokens, refresh=False)

        workers = 1 if self.endpoint.kind == "llama_cpp" else max(1, self.max_concurrency)
        try:
            if workers == 1:
                for i in todo:
                    one(i)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(one, todo))
        finally:
            bar.close()
        return [c for c in results if c is not None]
