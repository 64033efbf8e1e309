"""In-process llama.cpp backend with fast token log-probabilities.

llama-cpp-python's own ``logprobs`` (also behind its server) log-softmaxes its whole
``n_ctx x vocab`` score buffer and sorts the vocabulary in Python for every token, about 10x
slower than generating. Here each sampled token's log-prob is read from the logits row that
produced it (one numpy log-softmax per token), which is what SE labelling needs. With
``temperature=1, top_k=0, top_p=1, min_p=0`` and no repeat penalty the sampler draws from
exactly that softmax; with top-k / top-p truncation (the SE default, top-k = 50 as in the SE
reference implementations) it draws from the truncated softmax, while the recorded log-probs
stay the model's full-softmax likelihoods.

One model object serves one request at a time (llama.cpp contexts are not thread-safe), so
each :class:`LlamaInProcess` holds its own context behind a lock; two of them (say the strong
model and the same model as NLI judge) run in parallel threads, sharing the mmapped weights.
llama.cpp releases the GIL while it computes.

:meth:`LlamaInProcess.chat_batch` answers several requests for one prompt (SE labelling's
greedy answer and its K samples) as parallel sequences of one llama.cpp batch: the prompt is
evaluated once and shared, and each step decodes one token of every unfinished answer.
:meth:`LlamaInProcess.chat_many` does the same for requests with different prompts (a local
benchmark's greedy answers, several questions per batch); there each prompt's KV cells sit
elsewhere in the shared cache than they would alone, so attention sums run in another order
and a long greedy answer can leave the alone answer's path at a near tie (GSM8K, Qwen 1.5B,
384 tokens: 2 of 5 answers identical to the answer alone; against the one-request path 6 of
30 identical and 27 of 30 graded the same, 14 right vs 13).

With ``parallel`` below the number of requests, :meth:`LlamaInProcess.chat_many` batches
continuously: at most that many answers decode at once, each sequence in a KV pool of its
own, and a finished answer's sequence goes to the next request, its prompt evaluated from
the pool's first cell, so its cells stay in position order, as alone. Measured on GSM8K
(384 tokens) against each answer decoded alone: 5 of 6 identical for the 0.5B, 3 of 6 for
the 1.5B, the rest apart at a near tie from batched matrix products. On 2 cores it is only
1.04x faster than fixed batches of 8: a step of 8 tokens is already bound by compute.

On CPU a step of one token is bound by reading the weights, so a step of six tokens costs
far less than six steps (measured on 2 cores: 5 tokens per step gave 2.2x the tokens per
second of 1 for the 1.5B Qwen model, 1.7x for the 0.5B). Its sampler is numpy's, seeded per
request, so an answer depends on its own seed, not on which other requests shared its
batch. Its numbers are not bit-for-bit those of :meth:`LlamaInProcess.chat` (another
attention kernel and llama.cpp's batched matrix products): log-probs agree to within 0.1
nats (0.074 at most on SmolLM2), and a greedy answer can take the other branch at a near
tie.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_INSTANCES: weakref.WeakSet[LlamaInProcess] = weakref.WeakSet()
# llama-cpp-python silences a model's load by pointing the process's fds 1 and 2 at
# /dev/null and back (``suppress_stdout_stderr``). Two threads loading at once interleave the
# save and the restore and leave both fds on /dev/null for good: a label run with its two
# models loading side by side printed nothing more, progress bar and summary included. One
# load at a time keeps each save/restore pair whole.
_FD_SWAP_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    # Free models before interpreter teardown: llama-cpp-python's __del__ at shutdown
    # prints a TypeError traceback once its module globals are gone.
    for instance in list(_INSTANCES):
        instance.close()


def _log_softmax_at(row: np.ndarray, token: int) -> float:
    m = float(row.max())
    return float(row[token] - m - np.log(np.exp(row - m, dtype=np.float64).sum()))


def sample_token(
    row: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
) -> int:
    """One token from a logits row as llama.cpp's sampler chain draws it: top-k, then
    temperature, then top-p (nucleus) on what is left; ``temperature <= 0`` is the argmax."""
    if temperature <= 0:
        return int(np.argmax(row))
    logits = row.astype(np.float64)
    ids = np.argpartition(logits, -top_k)[-top_k:] if 0 < top_k < len(logits) else None
    z = (logits if ids is None else logits[ids]) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        keep = order[: int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1]
        ids = keep if ids is None else ids[keep]
        p = p[keep] / p[keep].sum()
    pick = int(rng.choice(len(p), p=p))
    return pick if ids is None else int(ids[pick])


class GenerationCancelled(Exception):
    """A :meth:`LlamaInProcess.chat_batch` call stopped by its ``cancel`` event."""


@dataclass(frozen=True)
class SamplingSpec:
    """One answer of a :meth:`LlamaInProcess.chat_batch` call."""

    temperature: float
    max_tokens: int
    seed: int
    logprobs: bool = False
    top_k: int = 0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()


@dataclass
class _Answer:
    spec: SamplingSpec
    rng: np.random.Generator
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text: str = ""
    finish: str | None = None


class LlamaInProcess:
    """Chat completions from a GGUF file in this process."""

    def __init__(
        self, model_path: str | Path, *, n_ctx: int = 2048, n_threads: int | None = None
    ) -> None:
        import os

        self.model_path = str(model_path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(os.cpu_count() or 1, 8))
        self.lock = threading.Lock()
        self._llm: Any = None
        self._formatter: Any = None
        self._batch_ctx: Any = None  # the multi-sequence context of chat_batch
        self._batch_ctx_size = (0, 0, True)  # its (n_ctx, n_seq_max, one KV pool)
        self._batch_threads = self.n_threads  # what the batch context computes with now
        _INSTANCES.add(self)

    def close(self) -> None:
        """Free the model (it reloads on the next call)."""
        with self.lock:
            if self._batch_ctx is not None:
                self._batch_ctx.close()
                self._batch_ctx = None
                self._batch_ctx_size = (0, 0, True)
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            # logits_all keeps one logits row per position: the fast log-prob path.
            with _FD_SWAP_LOCK:
                self._llm = Llama(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    logits_all=True,
                    verbose=False,
                )

            llm = self._llm
            eos = llm.token_eos()
            bos = llm.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=llm.metadata["tokenizer.chat_template"],
                eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        return self._llm

    def _prompt(
        self, messages: list[dict[str, str]], stop: Sequence[str] | None
    ) -> tuple[list[int], list[str]]:
        """The chat prompt's tokens and the stop strings (the template's and the caller's)."""
        formatted = self._formatter(messages=messages)
        tokens = self._llm.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        template_stops = (
            formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        )
        return tokens, [s for s in [*template_stops, *(stop or [])] if s]

    def chat(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float,
        max_tokens: int,
        seed: int,
        logprobs: bool,
        stop: list[str] | None = None,
        top_k: int = 0,
        top_p: float = 1.0,
        grammar: str | None = None,
        choice_logprobs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """One chat completion: dict with text, token_logprobs, usage and finish_reason.

        ``top_k = 0`` and ``top_p = 1`` sample from the whole vocabulary. The log-probs are
        always the model's own (full softmax), also when sampling is truncated: they are the
        likelihood p(s|x) that eq. 1 sums, not the truncated sampler's renormalised one.
        ``grammar`` (GBNF) constrains the reply; a greedy call then picks the most likely
        sentence token by token (for one-token choices, the argmax among them).
        ``choice_logprobs``: return each of these strings' log-probability at the first reply
        token (full softmax, of the string's first token; they must differ in it), read from
        the same logits row the first token is drawn from.
        """
        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar

        with self.lock:
            llm = self._load()
            prompt_tokens, stops = self._prompt(messages, stop)
            if len(prompt_tokens) + max_tokens > self.n_ctx:
                raise ValueError(
                    f"prompt of {len(prompt_tokens)} tokens + max_tokens {max_tokens} "
                    f"exceeds n_ctx {self.n_ctx}"
                )
            llm.set_seed(int(seed) & 0x7FFFFFFF)
            first_ids: list[int] = []
            if choice_logprobs:
                first_ids = [
                    llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)[0]
                    for c in choice_logprobs
                ]
                if len(set(first_ids)) != len(first_ids):
                    raise ValueError(
                        f"choices {list(choice_logprobs)} do not all start with different tokens"
                    )
            choice_lps: dict[str, float] | None = None
            out_tokens: list[int] = []
            lps: list[float] = []
            finish = "length"
            text = ""
            vocab = llm._model.vocab
            constraint = (
                LlamaGrammar.from_string(grammar, verbose=False) if grammar else None
            )
            for token in llm.generate(
                prompt_tokens,
                temp=temperature,
                top_k=top_k if temperature > 0 else 1,
                top_p=top_p,
                min_p=0.0,
                typical_p=1.0,
                repeat_penalty=1.0,
                grammar=constraint,
            ):
                if choice_logprobs and choice_lps is None:
                    row = llm.scores[llm.n_tokens - 1]
                    choice_lps = {
                        c: _log_softmax_at(row, t)
                        for c, t in zip(choice_logprobs, first_ids, strict=True)
                    }
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                if logprobs:
                    lps.append(_log_softmax_at(llm.scores[llm.n_tokens - 1], int(token)))
                out_tokens.append(int(token))
                text = llm.detokenize(out_tokens, prev_tokens=prompt_tokens).decode(
                    "utf-8", errors="ignore"
                )
                hit = next((s for s in stops if s in text), None)
                if hit is not None:
                    text = text[: text.index(hit)]
                    finish = "stop"
                    break
                if len(out_tokens) >= max_tokens:
                    break
            return {
                "text": text,
                "token_logprobs": lps if logprobs else None,
                "prompt_tokens": len(prompt_tokens),
                "completion_tokens": len(out_tokens),
                "finish_reason": finish,
                "choice_logprobs": choice_lps,
            }

    def set_threads(self, n_threads: int) -> None:
        """CPU threads for the next decode steps; a running :meth:`chat_batch` takes it up
        at its next step (a label run lends a waiting model's core to the other model)."""
        self.n_threads = max(1, int(n_threads))

    def _context_for(self, n_ctx: int, n_seq: int, *, unified: bool = True) -> Any:
        """The multi-sequence context, (re)made when it is smaller than asked or of the other
        kind. ``unified``: one KV pool of ``n_ctx`` cells shared by all sequences (a prompt's
        cells serve every sequence that shares it). Otherwise each sequence has a pool of
        its own of ``n_ctx`` cells, which the next request refills from its first cell
        (continuous batching), so its cells stay in position order."""
        import llama_cpp
        from llama_cpp import _internals

        have_ctx, have_seq, have_unified = self._batch_ctx_size
        per_seq = have_ctx if have_unified else have_ctx // max(have_seq, 1)
        if (
            self._batch_ctx is not None
            and have_unified == unified
            and per_seq >= n_ctx
            and have_seq >= n_seq
        ):
            return self._batch_ctx
        if self._batch_ctx is not None:
            self._batch_ctx.close()
        if have_unified != unified:
            per_seq, have_seq = 0, 0
        if unified:
            size = (max(n_ctx, per_seq, 2048), max(n_seq, have_seq, 8))
        else:  # whole pages of 256 cells per sequence
            seqs = max(n_seq, have_seq)
            size = (-(-max(n_ctx, per_seq) // 256) * 256 * seqs, seqs)
        # The single-sequence context's settings (KV types, threads, RoPE), with two
        # changes: its size and sequence count, and flash attention. With flash attention an
        # answer's logits do not depend on how many other sequences share its steps (without
        # it they moved by up to 0.02 nats between a batch of one and of six), so a sample
        # is fixed by its seed; it was also about 13 % faster here.
        params = llama_cpp.llama_context_params.from_buffer_copy(self._llm.context_params)
        params.n_ctx, params.n_seq_max = size
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.kv_unified = unified
        params.n_threads = params.n_threads_batch = self._batch_threads = self.n_threads
        with _FD_SWAP_LOCK:
            self._batch_ctx = _internals.LlamaContext(
                model=self._llm._model, params=params, verbose=False
            )
        self._batch_ctx_size = (*size, unified)
        return self._batch_ctx

    def chat_batch(
        self,
        messages: list[dict[str, str]],
        specs: Sequence[SamplingSpec],
        *,
        cancel: threading.Event | None = None,
    ) -> list[dict[str, Any]]:
        """Several answers to one chat prompt, decoded as parallel sequences of one batch
        (:meth:`chat_many` with the same prompt for every spec)."""
        return self.chat_many([(messages, spec) for spec in specs], cancel=cancel)

    def chat_many(
        self,
        requests: Sequence[tuple[list[dict[str, str]], SamplingSpec]],
        *,
        cancel: threading.Event | None = None,
        parallel: int | None = None,
        on_answer: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Answers to (chat prompt, sampling) pairs, decoded as parallel sequences of one batch.

        Requests with the same prompt share its evaluation (it is decoded once and copied to
        their sequences); different prompts each get their own. Returns one dict per request,
        as :meth:`chat` does (text, token_logprobs, usage, finish_reason). Each answer's
        sampler is seeded by its spec's seed alone; the log-probs are the model's
        full-softmax ones, as in :meth:`chat`. ``cancel``: once set, the call stops at its
        next decode step and raises :class:`GenerationCancelled` (an interrupted label run
        exits in a step, not after minutes of generation).

        ``parallel``: at most that many answers decode at once (None: all of them). When one
        finishes, its KV cells are freed and the next waiting request takes its sequence
        (continuous batching), so a step keeps decoding ``parallel`` answers instead of
        waiting, ever emptier, for the longest answer of a fixed batch. ``on_answer(i,
        answer)`` is called as request ``i``'s answer finishes (a caller caches it at once).
        """
        import llama_cpp
        from llama_cpp import _internals

        if not requests:
            return []
        if parallel is not None and parallel < 1:
            raise ValueError(f"parallel must be at least 1, got {parallel}")
        specs = [spec for _, spec in requests]
        slots = len(specs) if parallel is None else min(parallel, len(specs))
        with self.lock:
            llm = self._load()
            prompts: list[list[int]] = []
            stops: list[list[str]] = []
            for messages, _ in requests:
                tokens, template_stops = self._prompt(messages, None)
                prompts.append(tokens)
                stops.append(template_stops)
            sizes = [len(t) + spec.max_tokens for t, spec in zip(prompts, specs, strict=True)]
            if max(sizes) > self.n_ctx:
                raise ValueError(
                    f"prompt + max_tokens of {max(sizes)} tokens exceeds n_ctx {self.n_ctx}"
                )
            if slots == len(specs):  # one prompt's cells serve every request that shares it
                distinct = {tuple(t): len(t) for t in prompts}
                need = sum(distinct.values()) + sum(spec.max_tokens for spec in specs)
                ctx = self._context_for(need, slots)
            else:
                # A pool per sequence: one shared pool, its freed cells refilled by later
                # tokens out of position order, made each attention sum run in another
                # order than the answer's alone (with f16 accumulation, log-probs 0.1 nats
                # apart within 12 tokens of SmolLM2 and the greedy text apart soon after).
                ctx = self._context_for(max(sizes), slots, unified=False)
            mem = llama_cpp.llama_get_memory(ctx.ctx)
            llama_cpp.llama_memory_clear(mem, True)
            n_vocab = llama_cpp.llama_vocab_n_tokens(llm._model.vocab)
            batch: Any = _internals.LlamaBatch(
                n_tokens=max(512, slots), embd=0, n_seq_max=slots, verbose=False
            )
            answers = [
                _Answer(spec=spec, rng=np.random.default_rng(int(spec.seed) & 0x7FFFFFFF))
                for spec in specs
            ]
            vocab = llm._model.vocab
            occupant: dict[int, int] = {}  # sequence → the request it is answering
            rows: dict[int, np.ndarray] = {}  # sequence → the logits of its next token

            def admit(pairs: list[tuple[int, int]]) -> None:
                """Prefill each (sequence, request)'s prompt, once per distinct prompt."""
                first: dict[tuple[int, ...], int] = {}
                for seq, i in pairs:
                    occupant[seq] = i
                    key = tuple(prompts[i])
                    if key in first:
                        llama_cpp.llama_memory_seq_cp(mem, first[key], seq, -1, -1)
                        rows[seq] = rows[first[key]]
                        continue
                    first[key] = seq
                    tokens = prompts[i]
                    for start in range(0, len(tokens), 512):
                        chunk = tokens[start : start + 512]
                        batch.reset()
                        for j, tok in enumerate(chunk):
                            self._batch_add(batch, tok, start + j, seq, logits=False)
                        batch.batch.logits[len(chunk) - 1] = True
                        ctx.decode(batch)
                    rows[seq] = self._row(ctx, batch.n_tokens() - 1, n_vocab)

            waiting = list(range(slots, len(specs)))[::-1]  # popped from the end, in order
            try:
                admit([(seq, seq) for seq in range(slots)])
                while rows:
                    if cancel is not None and cancel.is_set():
                        raise GenerationCancelled("generation cancelled")
                    batch.reset()
                    step: list[int] = []
                    freed: list[int] = []
                    for seq, row in sorted(rows.items()):
                        i = occupant[seq]
                        a = answers[i]
                        tok = sample_token(
                            row,
                            a.rng,
                            temperature=a.spec.temperature,
                            top_k=a.spec.top_k,
                            top_p=a.spec.top_p,
                        )
                        if self._take(llm, vocab, a, tok, row, prompts[i], stops[i]):
                            pos = len(prompts[i]) + len(a.tokens) - 1
                            self._batch_add(batch, tok, pos, seq, True)
                            step.append(seq)
                            continue
                        if on_answer is not None:
                            on_answer(i, self._result(a, prompts[i]))
                        freed.append(seq)
                    rows = {}
                    if step:
                        if self.n_threads != self._batch_threads:
                            self._batch_threads = self.n_threads
                            llama_cpp.llama_set_n_threads(ctx.ctx, self.n_threads, self.n_threads)
                        ctx.decode(batch)
                        rows = {seq: self._row(ctx, j, n_vocab) for j, seq in enumerate(step)}
                    # A finished answer keeps its KV cells unless a waiting request needs its
                    # sequence: with nobody waiting, the remaining answers' attention sums
                    # (taken in cell order) stay those of a batch that never changed.
                    refill = []
                    for seq in freed:
                        del occupant[seq]
                        if waiting:
                            llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
                            refill.append((seq, waiting.pop()))
                    if refill:
                        admit(refill)
            finally:
                batch.close()
                llama_cpp.llama_memory_clear(mem, True)
            return [self._result(a, p) for a, p in zip(answers, prompts, strict=True)]

    @staticmethod
    def _result(a: _Answer, prompt: list[int]) -> dict[str, Any]:
        return {
            "text": a.text,
            "token_logprobs": a.logprobs if a.spec.logprobs else None,
            "prompt_tokens": len(prompt),
            "completion_tokens": len(a.tokens),
            "finish_reason": a.finish,
            "choice_logprobs": None,
        }

    @staticmethod
    def _batch_add(batch: Any, token: int, pos: int, seq: int, logits: bool) -> None:
        b = batch.batch
        i = b.n_tokens
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = logits
        b.n_tokens = i + 1

    @staticmethod
    def _row(ctx: Any, i: int, n_vocab: int) -> np.ndarray:
        ptr = ctx.get_logits_ith(i)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).copy()

    @staticmethod
    def _take(
        llm: Any,
        vocab: Any,
        a: _Answer,
        tok: int,
        row: np.ndarray,
        prompt_tokens: list[int],
        template_stops: list[str],
    ) -> bool:
        """Add a sampled token to an answer; False when the answer is finished."""
        import llama_cpp

        if llama_cpp.llama_vocab_is_eog(vocab, tok):
            a.finish = "stop"
            return False
        if a.spec.logprobs:
            a.logprobs.append(_log_softmax_at(row, tok))
        a.tokens.append(tok)
        a.text = llm.detokenize(a.tokens, prev_tokens=prompt_tokens).decode(
            "utf-8", errors="ignore"
        )
        hit = next((s for s in [*template_stops, *a.spec.stop] if s and s in a.text), None)
        if hit is not None:
            a.text = a.text[: a.text.index(hit)]
            a.finish = "stop"
            return False
        if len(a.tokens) >= a.spec.max_tokens:
            a.finish = "length"
            return False
        return True
