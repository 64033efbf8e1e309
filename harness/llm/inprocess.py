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
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Sequence
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
        _INSTANCES.add(self)

    def close(self) -> None:
        """Free the model (it reloads on the next call)."""
        with self.lock:
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
            formatted = self._formatter(messages=messages)
            prompt_tokens = llm.tokenize(
                formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
            )
            if len(prompt_tokens) + max_tokens > self.n_ctx:
                raise ValueError(
                    f"prompt of {len(prompt_tokens)} tokens + max_tokens {max_tokens} "
                    f"exceeds n_ctx {self.n_ctx}"
                )
            stops = [
                s
                for s in [
                    *(
                        formatted.stop
                        if isinstance(formatted.stop, list)
                        else [formatted.stop]
                        if formatted.stop
                        else []
                    ),
                    *(stop or []),
                ]
                if s
            ]
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
