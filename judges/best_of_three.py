"""The paper's Table 3 judge: which of three systems' responses is best (ties allowed).

Protocol (appendix A.2 of the paper): the judge sees the question, the ground-truth answer
and the three routing systems' responses, in an order shuffled per question (seeded; see
:func:`judges.protocol.shuffled_order`), and answers with the label(s) of the best
response(s). Replies are parsed by :func:`judges.parsing.parse_reply`; positions are mapped
back to systems, and Score(i) = 100 · S_i / T.

Every call goes through the cached LLM layer (:mod:`harness.llm`), greedy
(temperature 0) with a fixed seed, so a rerun or a resumed run repeats no call. Any
endpoint works: a local model of the pack (``qwen-1.5b``: in process; ``server:qwen-1.5b``:
llama.cpp's OpenAI-compatible server), or a name declared in an endpoint config file
(e.g. o1 through OpenAI when the user has a key).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from judges.base import Judge, JudgeItem, JudgeResult, Verdict
from judges.protocol import (
    build_distinct_prompt,
    build_prompt,
    distinct_order,
    judge_scores,
    shuffled_order,
    verdict_from_distinct_reply,
    verdict_from_reply,
)

# (prompt) -> reply; the default asks the endpoint through harness.llm.
Ask = Callable[[Sequence[str]], list[str]]
# The recorded "reply" for identical responses scored as a tie without asking (it parses as
# all three positions, so the verdict log stays uniform).
TIE_WITHOUT_CALL = "LLM 1 and LLM 2 and LLM 3 (identical responses: tie, judge not asked)"


class BestOfThreeJudge(Judge):
    """LLM-as-a-judge over three systems' responses (the paper's Table 3).

    Args:
        endpoint: the judge model: a local model name, ``server:<local model>``, or an
            endpoint declared in ``endpoints_file``.
        endpoints_file: endpoint config (TOML/YAML) for non-local judges; None for local.
        seed: seeds the per-question shuffle and the model's sampling.
        max_tokens: reply budget; the answer is a label, so a few tokens suffice
            (a longer budget only lets small models ramble).
        temperature: 0 = greedy.
        threads: CPU threads of an in-process local model (None: all cores). On a busy
            machine one thread per model is often faster than two fighting for the cores.
        identical: what to do when all three systems gave the same response (they routed
            the question to the same model): "tie" scores it as a three-way tie without a
            call (identical texts cannot differ in quality, so any other verdict is the
            judge's position bias; this also saves the calls), "ask" asks the judge anyway
            (the literal protocol).
        responses: "all" shows the judge one response per system (the paper's literal
            protocol; duplicates included), "distinct" shows each distinct response once
            (two when the systems split between the weak and the strong model) and credits
            every system that gave a named one. Routed systems only ever return one of the
            two models' answers, so "distinct" asks the same question whatever the routes:
            one call per question covers every router, label set and CPT target (a reply
            store stays valid when the routes change), and identical texts cannot get
            different verdicts through position bias.
        store: a JSONL file of replies keyed by a hash of (endpoint, prompt, settings), read
            before asking and appended to as replies come in. Unlike the LLM cache, which
            stays on the machine that made the calls, this file holds no prompt text and can
            be committed, so a judge run of hours continues on another machine or session.
    """

    def __init__(
        self,
        endpoint: str = "qwen-1.5b",
        endpoints_file: str | None = None,
        seed: int = 0,
        max_tokens: int = 16,
        temperature: float = 0.0,
        threads: int | None = None,
        identical: str = "tie",
        responses: str = "all",
        store: str | None = None,
    ) -> None:
        if identical not in ("tie", "ask"):
            raise ValueError(f"identical must be 'tie' or 'ask', got {identical!r}")
        if responses not in ("all", "distinct"):
            raise ValueError(f"responses must be 'all' or 'distinct', got {responses!r}")
        self.endpoint = endpoint
        self.endpoints_file = endpoints_file
        self.seed = seed
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.threads = threads
        self.identical = identical
        self.responses = responses
        self.store = store
        self.last_usage: Any = None  # the LLM client's usage counter of the last judge() call

    def describe(self) -> dict[str, Any]:
        return {
            "judge": "best_of_three",
            "endpoint": self.endpoint,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "identical": self.identical,
            "responses": self.responses,
        }

    def judge(
        self, items: Sequence[JudgeItem], ask: Ask | None = None, progress: bool = True
    ) -> JudgeResult:
        """Judge every item; ``ask`` replaces the LLM call (pure-logic tests only)."""
        if not items:
            return JudgeResult([], {}, 0, 0, self.describe())
        systems = tuple(items[0].responses)
        if len(systems) != 3:
            raise ValueError(f"best-of-three needs exactly 3 systems, got {systems}")
        if self.responses == "distinct":
            return self._judge_distinct(items, systems, ask, progress)
        orders = [shuffled_order(it.question_id, systems, self.seed) for it in items]
        prompts = [build_prompt(it, order) for it, order in zip(items, orders, strict=True)]
        asked = [
            i
            for i, it in enumerate(items)
            if self.identical == "ask" or len(set(it.responses.values())) > 1
        ]
        to_ask = [prompts[i] for i in asked]
        answers = ask(to_ask) if ask is not None else self._ask_llm(to_ask, progress)
        replies = [TIE_WITHOUT_CALL] * len(items)
        for i, reply in zip(asked, answers, strict=True):
            replies[i] = reply
        verdicts: list[Verdict] = [
            verdict_from_reply(it.question_id, order, reply)
            for it, order, reply in zip(items, orders, replies, strict=True)
        ]
        return JudgeResult(
            verdicts=verdicts,
            scores=judge_scores(verdicts, systems),
            n_questions=len(verdicts),
            n_unparseable=sum(not v.parsed for v in verdicts),
            judge=self.describe(),
        )

    def _judge_distinct(
        self,
        items: Sequence[JudgeItem],
        systems: tuple[str, ...],
        ask: Ask | None,
        progress: bool,
    ) -> JudgeResult:
        groups = [distinct_order(it, self.seed) for it in items]
        asked = [i for i, g in enumerate(groups) if len(g) > 1]
        # Several targets of one question share their prompt: ask each distinct prompt once.
        prompts: dict[str, None] = {}
        prompt_of: dict[int, str] = {}
        for i in asked:
            texts = [items[i].responses[g[0]] for g in groups[i]]
            prompt_of[i] = build_distinct_prompt(items[i].question, items[i].gold, texts)
            prompts.setdefault(prompt_of[i])
        unique = list(prompts)
        answers = ask(unique) if ask is not None else self._ask_llm(unique, progress)
        reply_of = dict(zip(unique, answers, strict=True))
        verdicts = [
            verdict_from_distinct_reply(it.question_id, g, reply_of[prompt_of[i]])
            if i in prompt_of
            # One text for all systems: a tie without a call.
            else Verdict(it.question_id, g[0], TIE_WITHOUT_CALL, frozenset(g[0]), parsed=True)
            for i, (it, g) in enumerate(zip(items, groups, strict=True))
        ]
        return JudgeResult(
            verdicts=verdicts,
            scores=judge_scores(verdicts, systems),
            n_questions=len(verdicts),
            n_unparseable=sum(not v.parsed for v in verdicts),
            judge=self.describe(),
        )

    def _ask_llm(self, prompts: Sequence[str], progress: bool = True) -> list[str]:
        from harness.llm.client import LLMClient, Request, UsageCounter
        from harness.llm.endpoints import endpoint_identity, resolve_endpoint

        config = Path(self.endpoints_file) if self.endpoints_file else None
        if self.store is not None:
            # Look the replies up first: when the store holds them all (a committed store on
            # a new machine), no model file is needed and no server is started.
            store = ReplyStore(Path(self.store))
            name, model = endpoint_identity(self.endpoint, config)
            keys = [store.key(name, model, p, self.settings()) for p in prompts]
            replies = [store.get(k) for k in keys]
            todo = [i for i, r in enumerate(replies) if r is None]
            if not todo:
                self.last_usage = UsageCounter()
                return [r or "" for r in replies]
        endpoint = resolve_endpoint(self.endpoint, config)
        client = LLMClient(endpoint, n_threads=self.threads)
        self.last_usage = client.usage
        requests = [
            Request.make(
                [{"role": "user", "content": p}],
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                seed=self.seed,
            )
            for p in prompts
        ]
        desc = f"judge ({endpoint.name})"
        if self.store is None:
            return [r.text for r in client.run_many(requests, desc=desc, progress=progress)]
        # Small chunks, each appended to the store as it completes: a run stopped part-way
        # keeps all but the chunk in flight (and that one is still in the LLM cache).
        for start in range(0, len(todo), STORE_CHUNK):
            chunk = todo[start : start + STORE_CHUNK]
            done = len(prompts) - len(todo) + start + len(chunk)
            results = client.run_many(
                [requests[i] for i in chunk],
                desc=f"{desc} {done}/{len(prompts)}",
                progress=progress,
            )
            store.add([(keys[i], r.text) for i, r in zip(chunk, results, strict=True)])
            for i, r in zip(chunk, results, strict=True):
                replies[i] = r.text
        return [r or "" for r in replies]

    def settings(self) -> dict[str, Any]:
        """What, besides endpoint and prompt, decides a reply (part of the store key)."""
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}


STORE_CHUNK = 8


class ReplyStore:
    """An append-only JSONL file of judge replies by key; no prompt text is stored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._replies: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._replies[str(row["key"])] = str(row["reply"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by a kill is asked again

    @staticmethod
    def key(name: str, model: str, prompt: str, settings: dict[str, Any]) -> str:
        blob = json.dumps([name, model, prompt, settings], sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        return self._replies.get(key)

    def add(self, rows: Sequence[tuple[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for key, reply in rows:
                fh.write(json.dumps({"key": key, "reply": reply}, ensure_ascii=False) + "\n")
                self._replies[key] = reply
            fh.flush()
            os.fsync(fh.fileno())
