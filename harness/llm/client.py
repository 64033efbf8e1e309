"""A cached, retrying LLM client for OpenAI-compatible endpoints and in-process llama.cpp.

``LLMClient(endpoint).complete(messages, ...)`` returns a :class:`Completion`;
``sample(messages, n, ...)`` draws ``n`` answers as separate requests with distinct seeds
(llama.cpp and others ignore ``n>1``); ``run_many(requests)`` runs a batch with bounded
concurrency and a progress bar showing calls done, cache hits and tokens.

Every call is looked up in / written to the :class:`~harness.llm.cache.LLMCache` before and
after it runs, one commit per call. Faults are bounded per endpoint (``timeout_s``,
``max_retries``, ``backoff_s`` of :class:`~harness.llm.endpoints.Endpoint`): 429, 5xx,
timeouts, connection errors and bodies that are not a chat completion (HTML, invalid JSON,
``choices: []``) are retried with exponential backoff, or after the server's ``Retry-After``
when it asks for longer, then raise :class:`LLMCallError` naming the endpoint (its URL with
credentials masked). An empty answer is asked once more; still empty, it is returned and
cached with ``empty=True``, and a later run asks again rather than reuse it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import RouterlabError
from harness.liveness import owner_id
from harness.llm.cache import LLMCache, cache_key, default_cache_path
from harness.llm.endpoints import Endpoint
from harness.redaction import redact_text

if TYPE_CHECKING:  # the llama.cpp module loads only when a model runs in process
    from harness.llm.inprocess import SamplingSpec

log = logging.getLogger(__name__)

Messages = list[dict[str, str]]


class LLMCallError(RouterlabError):
    """An endpoint kept failing after all retries."""


class BadResponse(Exception):
    """A 200 reply that is not a usable chat completion (HTML, not JSON, no choices)."""


# Longest wait a server's Retry-After may impose; beyond it the call fails instead.
MAX_RETRY_AFTER_S = 120.0
# An endpoint that failed every retry is taken as down for this long: further calls in this
# process fail at once instead of each waiting out its own timeouts (a batch of queued calls
# to a hanging server would otherwise take minutes per call to fail).
DOWN_FOR_S = 300.0
_down: dict[tuple[str, str], tuple[float, str]] = {}
_down_lock = threading.Lock()
# How often a process waiting for another's in-flight call looks for its answer.
INFLIGHT_POLL_S = 0.2


@dataclass
class Completion:
    """One answer.

    Attributes:
        text: the answer text ("" when the model returned nothing usable).
        token_logprobs: log-probability of each answer token, when the endpoint gives them.
        prompt_tokens / completion_tokens: token usage as the endpoint reported it.
        finish_reason: "stop", "length", ... as reported.
        choice_logprobs: for a constrained request asked for them
            (``Request.choice_logprobs``), each choice's log-probability under the model's
            full softmax at the reply's first token: the exact distribution a one-token
            multiple-choice answer is drawn from, without sampling.
        empty: True when the endpoint gave no text twice in a row (recorded, not reused).
        cached: True when read from the cache instead of calling the endpoint.
    """

    text: str
    token_logprobs: list[float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    choice_logprobs: dict[str, float] | None = None
    empty: bool = False
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
            choice_logprobs=d.get("choice_logprobs"),
            empty=bool(d.get("empty", False)),
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
    # Sampling truncation: top_k = 0 and top_p = 1 sample from the whole vocabulary.
    top_k: int = 0
    top_p: float = 1.0
    # Constrained decoding: the reply is exactly one of these strings (a GBNF grammar, read
    # by llama.cpp in process and by llama.cpp-compatible servers). Empty: free text.
    choices: tuple[str, ...] = ()
    # With ``choices``: also return every choice's log-probability at the first reply token
    # (``Completion.choice_logprobs``); each choice must start with a different token.
    choice_logprobs: bool = False

    @classmethod
    def make(cls, messages: Messages, **kw: Any) -> Request:
        return cls(
            messages=tuple((m["role"], m["content"]) for m in messages),
            stop=tuple(kw.pop("stop", None) or ()),
            choices=tuple(kw.pop("choices", None) or ()),
            **kw,
        )

    def message_list(self) -> Messages:
        return [{"role": r, "content": c} for r, c in self.messages]

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "logprobs": self.logprobs,
            "stop": list(self.stop),
        }
        # Only when set: the cache keys of untruncated requests stay what they were.
        if self.top_k:
            params["top_k"] = self.top_k
        if self.top_p < 1.0:
            params["top_p"] = self.top_p
        if self.choices:
            params["choices"] = list(self.choices)
        if self.choice_logprobs:
            params["choice_logprobs"] = True
        return params


def _first_token_choices(choice: Any, choices: Sequence[str]) -> dict[str, float]:
    """Each choice's log-prob from an OpenAI-style reply's first-token ``top_logprobs``.

    A server reports only its top 20 tokens, so a choice outside them is missing: that is a
    BadResponse (retried), not a silent guess, since the distribution would be wrong."""
    content = (choice.logprobs.content or []) if choice.logprobs is not None else []
    if not content:
        raise BadResponse("reply has no log-probs for its first token")
    top = {str(t.token).strip(): float(t.logprob) for t in (content[0].top_logprobs or [])}
    missing = [c for c in choices if c not in top]
    if missing:
        raise BadResponse(f"first-token top_logprobs lack the choices {missing}")
    return {c: top[c] for c in choices}


def choices_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar whose only sentences are ``choices`` (llama.cpp's grammar format;
    its string literals take JSON's escapes)."""
    if not choices or any(not c for c in choices):
        raise ValueError(f"choices must be non-empty strings, got {list(choices)!r}")
    return "root ::= " + " | ".join(json.dumps(c, ensure_ascii=False) for c in choices)


def _sampling_spec(req: Request) -> SamplingSpec:
    from harness.llm.inprocess import SamplingSpec

    return SamplingSpec(
        temperature=req.temperature,
        max_tokens=req.max_tokens,
        seed=req.seed,
        logprobs=req.logprobs,
        top_k=req.top_k,
        top_p=req.top_p,
        stop=req.stop,
    )


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

    if isinstance(exc, (BadResponse, json.JSONDecodeError, openai.APIResponseValidationError)):
        return True
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False


def retry_after_s(exc: Exception) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class LLMClient:
    """Cached calls to one endpoint.

    Args:
        endpoint: where to send requests.
        cache: the call cache (default: ``cache_dir()/llm_cache.sqlite``).
        max_concurrency: parallel requests in :meth:`run_many` (in-process models run one
            request at a time whatever this says).
        max_retries / backoff_s / timeout_s: override the endpoint's fault settings
            (:class:`~harness.llm.endpoints.Endpoint`; None: the endpoint's).
        n_threads: CPU threads of an in-process model (default: all cores).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        cache: LLMCache | None = None,
        max_concurrency: int = 4,
        max_retries: int | None = None,
        backoff_s: float | None = None,
        timeout_s: float | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.cache = cache if cache is not None else LLMCache(default_cache_path())
        self.max_concurrency = max_concurrency
        self.max_retries = endpoint.max_retries if max_retries is None else max_retries
        self.backoff_s = endpoint.backoff_s if backoff_s is None else backoff_s
        self.timeout_s = endpoint.timeout_s if timeout_s is None else timeout_s
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
                    # Retries are counted here (one budget for transport and content faults,
                    # with the endpoint's own backoff); Retry-After is honoured below.
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
        if req.top_p < 1.0:
            kwargs["top_p"] = req.top_p
        extra: dict[str, Any] = {}
        if req.top_k:
            # Not in the OpenAI schema; llama.cpp's and vLLM's servers read it from the body.
            extra["top_k"] = req.top_k
        if req.choices:
            extra["grammar"] = choices_grammar(req.choices)  # llama.cpp's server field
        if extra:
            kwargs["extra_body"] = extra
        if req.logprobs or req.choice_logprobs:
            # llama.cpp's server returns log-probs only when top_logprobs is set too; for the
            # choices' distribution ask for the most an OpenAI-style server gives (20).
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = 20 if req.choice_logprobs else 1
        resp = self._openai_client().chat.completions.create(**kwargs)
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list):  # openai hands back a non-JSON body as a str
            snippet = " ".join(str(resp).split())[:80]
            raise BadResponse(f"reply is not a chat completion: {snippet!r}")
        if not choices:
            raise BadResponse("reply has no choices")
        choice = choices[0]
        text = (choice.message.content or "") if choice.message else ""
        lps = None
        if req.logprobs and choice is not None and choice.logprobs is not None:
            lps = [float(t.logprob) for t in (choice.logprobs.content or [])]
        usage = resp.usage
        return Completion(
            text=text,
            token_logprobs=lps if req.logprobs else None,
            choice_logprobs=_first_token_choices(choice, req.choices)
            if req.choice_logprobs
            else None,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=getattr(choice, "finish_reason", None),
        )

    def _inprocess_model(self) -> Any:
        with self._init_lock:
            if self._inprocess is None:
                from harness.llm.inprocess import LlamaInProcess

                self._inprocess = LlamaInProcess(self.endpoint.base_url, n_threads=self.n_threads)
        return self._inprocess

    def set_threads(self, n_threads: int) -> None:
        """CPU threads of an in-process model from its next decode step on (no effect on a
        server endpoint)."""
        if self.endpoint.kind == "llama_cpp":
            self._inprocess_model().set_threads(n_threads)

    def _call_inprocess(self, req: Request) -> Completion:
        out = self._inprocess_model().chat(
            req.message_list(),
            temperature=req.temperature,
            max_tokens=req.max_tokens,
            seed=req.seed,
            logprobs=req.logprobs,
            stop=list(req.stop),
            top_k=req.top_k,
            top_p=req.top_p,
            grammar=choices_grammar(req.choices) if req.choices else None,
            choice_logprobs=req.choices if req.choice_logprobs else None,
        )
        return Completion.from_json(out)

    def _call_with_retries(self, req: Request) -> Completion:
        if self.endpoint.kind == "llama_cpp":
            return self._call_inprocess(req)
        delay = self.backoff_s
        where = f"endpoint {self.endpoint.name!r} ({self.endpoint.display_url})"
        down_key = (self.endpoint.name, self.endpoint.base_url)
        with _down_lock:
            since, message = _down.get(down_key, (0.0, ""))
        if time.monotonic() - since < DOWN_FOR_S:
            raise LLMCallError(message)
        for attempt in range(self.max_retries + 1):
            try:
                return self._call_openai(req)
            except Exception as exc:
                # One line: the openai error text may span lines and quote the URL.
                why = redact_text(" ".join(f"{type(exc).__name__}: {exc}".split()))[:300]
                if not _is_retryable(exc):
                    raise LLMCallError(f"{where} rejected the request: {why}") from exc
                if attempt == self.max_retries:
                    message = (
                        f"{where} still failing after {self.max_retries} retries "
                        f"(timeout {self.timeout_s:g} s each): {why}; raise the endpoint's "
                        "timeout_s / max_retries if it is only slow"
                    )
                    with _down_lock:
                        _down[down_key] = (time.monotonic(), message)
                    raise LLMCallError(message) from exc
                wait = delay * (1 + 0.25 * random.random())
                asked = retry_after_s(exc)
                if asked is not None:
                    if asked > MAX_RETRY_AFTER_S:
                        raise LLMCallError(
                            f"{where} asks to retry after {asked:.0f} s (over "
                            f"{MAX_RETRY_AFTER_S:.0f} s): {why}"
                        ) from exc
                    wait = max(wait, asked)
                log.warning(
                    "%s: %s; retry %d in %.1fs", self.endpoint.name, why, attempt + 1, wait
                )
                time.sleep(wait)
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
        if hit is None or hit.get("empty"):  # an empty answer is asked again, not reused
            return None
        return Completion.from_json(hit, cached=True)

    def _claim_seconds(self) -> float:
        """How long a claim on an in-flight call lasts: the call's worst case, plus slack."""
        if self.endpoint.kind == "llama_cpp":
            return 3600.0  # no timeout in process; a dead claimant is seen at once anyway
        backoff = self.backoff_s * (2 ** (self.max_retries + 1))
        return float(2 * (self.timeout_s * (self.max_retries + 1) + backoff) + 30.0)

    def call(self, req: Request) -> Completion:
        """One request through the cache; a request another process (sharing the cache) has
        in flight is waited for, not sent again."""
        hit = self.lookup(req)
        if hit is not None:
            self.usage.add(hit)
            return hit
        key = self.key(req)
        owner = owner_id(str(threading.get_ident()))
        while not self.cache.claim(key, owner, self._claim_seconds()):
            time.sleep(INFLIGHT_POLL_S)
            hit = self.lookup(req)
            if hit is not None:
                self.usage.add(hit)
                return hit
        try:
            hit = self.lookup(req)  # answered between our lookup and our claim
            if hit is not None:
                self.usage.add(hit)
                return hit
            return self._call_and_store(req, key)
        finally:
            self.cache.release(key, owner)

    def call_batch(
        self,
        requests: Sequence[Request],
        *,
        cancel: threading.Event | None = None,
        parallel: int | None = None,
        on_done: Callable[[int, Completion], None] | None = None,
    ) -> list[Completion]:
        """Several requests through the cache, answers in order.

        On an in-process model, the uncached free-text requests (no ``choices``) decode
        together as parallel sequences of one llama.cpp batch
        (:meth:`~harness.llm.inprocess.LlamaInProcess.chat_many`; requests with the same
        prompt share its evaluation): a greedy answer and K samples, or the greedy answers
        to several questions, cost little more than the longest of them. Each answer is
        cached under its own request, as :meth:`call` caches it. Elsewhere, and for
        requests another process has in flight, this is :meth:`call` one request after the
        other. ``cancel``: once set, an in-process batch stops at its next step (the answers
        it finished are cached, the rest not). ``parallel``: at most that many answers decode
        at once, a finished one's sequence going to the next request (continuous batching);
        None decodes them all together. ``on_done(i, completion)``: called as request ``i``
        is answered, from the cache or by the model (a progress bar).
        """
        reqs = list(requests)
        batchable = (
            self.endpoint.kind == "llama_cpp"
            and not any(r.choices or r.choice_logprobs for r in reqs)
        )
        if not batchable:
            answered = []
            for i, r in enumerate(reqs):
                answered.append(self.call(r))
                if on_done is not None:
                    on_done(i, answered[-1])
            return answered
        out: list[Completion | None] = [self.lookup(r) for r in reqs]
        owner = owner_id(str(threading.get_ident()))
        claimed: list[int] = []  # ours to answer (a claim held, no answer yet)
        generated: list[int] = []
        try:
            for i, hit in enumerate(out):
                if hit is None and self.cache.claim(
                    self.key(reqs[i]), owner, self._claim_seconds()
                ):
                    claimed.append(i)
                    out[i] = self.lookup(reqs[i])  # answered between lookup and claim
            generated = [i for i in claimed if out[i] is None]
            if generated:

                def finished(j: int, raw: dict[str, Any]) -> None:
                    # Cached the moment it is done, so an interrupted batch keeps it. An
                    # empty answer is asked again after the batch (that retry needs the
                    # model, which the batch holds).
                    i = generated[j]
                    answer = Completion.from_json(raw)
                    if answer.text:
                        stored = self._store(reqs[i], self.key(reqs[i]), answer)
                        out[i] = stored
                        if on_done is not None:
                            on_done(i, stored)

                answers = self._inprocess_model().chat_many(
                    [(reqs[i].message_list(), _sampling_spec(reqs[i])) for i in generated],
                    cancel=cancel,
                    parallel=parallel,
                    on_answer=finished,
                )
                for i, raw in zip(generated, answers, strict=True):
                    if out[i] is None:
                        stored = self._store(reqs[i], self.key(reqs[i]), Completion.from_json(raw))
                        out[i] = stored
                        if on_done is not None:
                            on_done(i, stored)
        finally:
            for i in claimed:
                self.cache.release(self.key(reqs[i]), owner)
        for i, c in enumerate(out):
            if c is None:  # another process has it in flight: wait for its answer
                if cancel is not None and cancel.is_set():
                    from harness.llm.inprocess import GenerationCancelled

                    raise GenerationCancelled("generation cancelled")
                waited = self.call(reqs[i])
                out[i] = waited
                if on_done is not None:
                    on_done(i, waited)
            elif i not in generated:  # _store counted the generated ones
                self.usage.add(c)
                if on_done is not None:
                    on_done(i, c)
        return [c for c in out if c is not None]

    def _call_and_store(self, req: Request, key: str) -> Completion:
        return self._store(req, key, self._call_with_retries(req))

    def _store(self, req: Request, key: str, out: Completion) -> Completion:
        """Cache an answer (an empty one is asked once more first) and count it."""
        if not out.text:  # a one-off glitch must not become a permanent sample
            out = self._call_with_retries(req)
            out.empty = not out.text
        self.cache.put(
            key,
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
        choices: Sequence[str] = (),
    ) -> Completion:
        """One completion (greedy by default); ``choices`` constrain it (:class:`Request`)."""
        return self.call(
            Request.make(
                messages,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=seed,
                logprobs=logprobs,
                stop=stop,
                sample_index=sample_index,
                choices=choices,
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
        self,
        requests: Sequence[Request],
        *,
        desc: str | None = None,
        progress: bool = True,
        batch_size: int = 1,
    ) -> list[Completion]:
        """All ``requests`` (cache first), with bounded concurrency and a progress bar.

        ``batch_size`` > 1: on an in-process model, the uncached requests go through
        :meth:`call_batch` and up to that many decode at once as parallel sequences, each
        finished answer's sequence taken by the next request (on 2 CPU cores a step of
        several tokens costs little more than a step of one). A batched greedy answer can
        differ from the one-request path's at a near tie (:mod:`harness.llm.inprocess`).
        """
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
            miniters=1,  # cache hits first would make tqdm's adaptive miniters go silent
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
            if batch_size > 1 and self.endpoint.kind == "llama_cpp":

                def done(j: int, c: Completion) -> None:
                    nonlocal tokens
                    results[todo[j]] = c
                    tokens += c.prompt_tokens + c.completion_tokens
                    bar.update(1)
                    bar.set_postfix(cache_hits=hits, tokens=tokens, refresh=False)

                self.call_batch([requests[i] for i in todo], parallel=batch_size, on_done=done)
            elif workers == 1:
                for i in todo:
                    one(i)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(one, todo))
        finally:
            bar.close()
        return [c for c in results if c is not None]
