"""The judge interface: an LLM that compares routing systems' responses on the same questions.

A judge is a class whose hyper-parameters are explicit keyword arguments stored unchanged
(scikit-learn's rule, as for routers and label sources), with one method::

    judge(items: Sequence[JudgeItem]) -> JudgeResult

Each :class:`JudgeItem` holds one question, its gold answer and one response per system;
the result says, per question, which systems the judge named best, and per system the score
``100 · S_i / T`` (the paper's Table 3). Judges call models only through the cached LLM layer
(:mod:`harness.llm`), so a judge run can be killed and resumed without repeating a call.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.params import KeywordParams, check_keyword_init


@dataclass(frozen=True)
class JudgeItem:
    """One question to judge.

    Attributes:
        question_id: stable id (seeds the per-question shuffle).
        question: the question text.
        gold: the ground-truth answer.
        responses: system name → that system's response to the question.
    """

    question_id: str
    question: str
    gold: str
    responses: Mapping[str, str]


@dataclass(frozen=True)
class Verdict:
    """The judge's decision on one question.

    Attributes:
        question_id: the item's id.
        order: the systems in the order the judge saw them (position 1 first).
        reply: the judge's raw reply.
        best: the systems named best (un-shuffled), empty when ``parsed`` is false.
        parsed: false when the reply named no valid response.
    """

    question_id: str
    order: tuple[str, ...]
    reply: str
    best: frozenset[str]
    parsed: bool


@dataclass
class JudgeResult:
    """All verdicts of a judge run and the per-system scores.

    Attributes:
        verdicts: one per question, in input order.
        scores: system → 100 · S_i / T, with T the number of parsed verdicts.
        n_questions: how many questions were judged.
        n_unparseable: replies that named no valid response (left out of T).
        judge: a description of the judge (its class, endpoint and model) for reports.
    """

    verdicts: list[Verdict]
    scores: dict[str, float]
    n_questions: int
    n_unparseable: int
    judge: dict[str, Any] = field(default_factory=dict)


class Judge(KeywordParams):
    """Base class for judges (best_of_three, and plugins); keyword parameters as routers."""

    def judge(self, items: Sequence[JudgeItem]) -> JudgeResult:
        raise NotImplementedError


def validate_judge_class(name: str, cls: object) -> None:
    """Registry hook: fail at registration when a class breaks the judge interface."""
    if not (inspect.isclass(cls) and issubclass(cls, Judge)):
        raise TypeError(f"{cls!r} is not a subclass of judges.base.Judge")
    if cls.judge is Judge.judge:
        raise TypeError(f"{cls.__name__} does not implement judge(items)")
    check_keyword_init(cls)
