"""The paper's Table 3 protocol as pure functions: prompt, per-question shuffle, scoring.

Kept free of any LLM client so every step is unit-testable; :mod:`judges.best_of_three`
wires them to the cached LLM layer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

from judges.base import JudgeItem, Verdict
from judges.parsing import parse_reply

# Verbatim from the paper's appendix A.2 (see docs/method.md), including its line breaks and
# the missing space after "Ground Truth Answer:". Filled with str.format in order: question,
# ground truth, LLM 1, LLM 2, LLM 3.
PROMPT_TEMPLATE = """You are an evaluator for math problem solutions. You will receive:
1. A question.
2. A ground truth answer.
3. Three LLM-generated responses.
Your task is to select which response(s) is/are best, based on whether
   the answer is correct and the reasoning is precise.
Follow these rules:
* DO NOT provide any explanation or reasoning in your answer-only
   state which LLM(s) you judge as having the best response.
* If more than one response is equally best, name each of them.
Question: {}
Ground Truth Answer:{}
LLM 1 Response: {}
LLM 2 Response: {}
LLM 3 Response: {}
Your output must ONLY indicate the selected LLM(s). For example, 'LLM
   1' or 'LLM 1 and LLM 3'."""


def shuffled_order(question_id: str, systems: Sequence[str], seed: int) -> tuple[str, ...]:
    """The order in which the judge sees the systems for one question.

    Seeded by (seed, question id) so the order is the same on every rerun (the LLM cache
    then hits) but differs between questions, so no system keeps a position bias.
    """
    digest = hashlib.sha256(f"{seed}:{question_id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    perm = rng.permutation(len(systems))
    return tuple(systems[i] for i in perm)


def build_prompt(item: JudgeItem, order: Sequence[str]) -> str:
    """The paper's prompt with the responses in ``order`` (position 1 = ``order[0]``)."""
    if len(order) != 3:
        raise ValueError(f"the best-of-three prompt takes exactly 3 responses, got {len(order)}")
    return PROMPT_TEMPLATE.format(
        item.question, item.gold, *(item.responses[name] for name in order)
    )


def build_distinct_prompt(question: str, gold: str, texts: Sequence[str]) -> str:
    """The paper's prompt over two or three *distinct* responses.

    With two responses only the count ("Two"), the response lines and the example reply
    change; the instructions stay verbatim.
    """
    if len(texts) == 3:
        return PROMPT_TEMPLATE.format(question, gold, *texts)
    if len(texts) != 2:
        raise ValueError(f"the judge prompt takes 2 or 3 distinct responses, got {len(texts)}")
    two = (
        PROMPT_TEMPLATE.replace("3. Three LLM-generated", "3. Two LLM-generated")
        .replace("LLM 3 Response: {}\n", "")
        .replace("'LLM 1 and LLM 3'", "'LLM 1 and LLM 2'")
    )
    return two.format(question, gold, *texts)


def distinct_order(item: JudgeItem, seed: int) -> list[tuple[str, ...]]:
    """The distinct responses of one item as groups of systems, in the order the judge sees them.

    Systems that gave the same text form one group (they routed to the same model). The
    groups start in an order fixed by the texts alone (their sha256) and are then shuffled
    by (seed, question id), so the prompt depends on the question and its distinct answers,
    never on which system gave which: replies stay valid when the routes change.
    """
    groups: dict[str, list[str]] = {}
    for name, text in item.responses.items():
        groups.setdefault(text, []).append(name)
    texts = sorted(groups, key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    order = shuffled_order(item.question_id, texts, seed)
    return [tuple(groups[t]) for t in order]


def verdict_from_reply(question_id: str, order: Sequence[str], reply: str) -> Verdict:
    """Parse a reply and map the positions it names back to system names (un-shuffle)."""
    positions = parse_reply(reply, n_responses=len(order))
    if positions is None:
        return Verdict(question_id, tuple(order), reply, frozenset(), parsed=False)
    best = frozenset(order[p - 1] for p in positions)
    return Verdict(question_id, tuple(order), reply, best, parsed=True)


def verdict_from_distinct_reply(
    question_id: str, groups: Sequence[tuple[str, ...]], reply: str
) -> Verdict:
    """Parse a reply over distinct responses; every system of a named response is best.

    ``order`` lists the systems group by group (the first system saw position 1).
    """
    order = tuple(name for group in groups for name in group)
    positions = parse_reply(reply, n_responses=len(groups))
    if positions is None:
        return Verdict(question_id, order, reply, frozenset(), parsed=False)
    best = frozenset(name for p in positions for name in groups[p - 1])
    return Verdict(question_id, order, reply, best, parsed=True)


def judge_scores(verdicts: Iterable[Verdict], systems: Sequence[str]) -> dict[str, float]:
    """Score(i) = 100 · S_i / T per system (the paper's Table 3).

    S_i counts the questions where system i was named best (ties name several systems, so
    the scores may add up to more than 100); T counts the questions with a parseable
    verdict. Unparseable replies are left out of T (and reported separately) rather than
    counted as "no system best", which would lower every score alike.
    """
    parsed = [v for v in verdicts if v.parsed]
    total = len(parsed)
    if total == 0:
        return {name: float("nan") for name in systems}
    return {name: 100.0 * sum(name in v.best for v in parsed) / total for name in systems}
