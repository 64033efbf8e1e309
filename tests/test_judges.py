"""Pure-logic tests of the best-of-three judge: reply parsing, shuffling, scoring."""

from __future__ import annotations

import pytest

from judges.base import Judge, JudgeItem, validate_judge_class
from judges.parsing import parse_reply
from judges.protocol import (
    PROMPT_TEMPLATE,
    build_prompt,
    judge_scores,
    shuffled_order,
    verdict_from_reply,
)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("LLM 1", {1}),
        ("LLM 2.", {2}),
        ("LLM 1 and LLM 3", {1, 3}),
        ("llm1, llm 3", {1, 3}),
        ("LLMs 1 and 3", {1, 3}),
        ("LLM 1 & LLM 2", {1, 2}),
        ("'LLM 3'", {3}),
        ("**LLM 2**", {2}),
        ("Response 2", {2}),
        ("2", {2}),
        ("1 and 3", {1, 3}),
        ("All three", {1, 2, 3}),
        ("LLM 1, LLM 2, and LLM 3", {1, 2, 3}),
        ("LLM-2", {2}),
        ("The best response is LLM 3 because LLM 1 made an arithmetic error.", {3}),
        ("LLM 2. LLM 1 forgot to convert units.", {2}),
        ("LLM 1: correct and precise", {1}),
        ("\n\nLLM 3\n", {3}),
        ("Selected: LLM 1 and LLM 2", {1, 2}),
        ("LLM 1\nLLM 3", {1, 3}),
        ("- LLM 1\n- LLM 2", {1, 2}),
        ("LLM 2\nbecause LLM 1 is wrong", {2}),
        ("LLM 1 is correct but LLM 2 is not", {1}),
        ("The best response is LLM 2 (it gets 18).", {2}),
    ],
)
def test_parse_reply_reads_the_named_responses(reply: str, expected: set[int]) -> None:
    assert parse_reply(reply) == frozenset(expected)


@pytest.mark.parametrize(
    "reply",
    ["", "I cannot decide.", "LLM 4", "LLM 0", "The answer is 18", "None of them is correct"],
)
def test_parse_reply_returns_none_when_no_valid_response_is_named(reply: str) -> None:
    assert parse_reply(reply) is None


def test_out_of_range_numbers_are_ignored_but_valid_ones_kept() -> None:
    assert parse_reply("LLM 3 and LLM 7") == frozenset({3})


def test_shuffle_is_seeded_per_question_and_a_permutation() -> None:
    systems = ("a", "b", "c")
    first = shuffled_order("q1", systems, seed=0)
    assert sorted(first) == sorted(systems)
    assert shuffled_order("q1", systems, seed=0) == first
    orders = {shuffled_order(f"q{i}", systems, seed=0) for i in range(60)}
    # 60 questions over 6 permutations: every order occurs, so no system keeps position 1.
    assert len(orders) == 6
    assert {shuffled_order(f"q{i}", systems, seed=1) for i in range(10)} != {
        shuffled_order(f"q{i}", systems, seed=0) for i in range(10)
    }


def test_prompt_is_the_papers_template_in_shuffled_order() -> None:
    item = JudgeItem("q", "What is 2+2?", "4", {"a": "resp A", "b": "resp B", "c": "resp C"})
    prompt = build_prompt(item, ("c", "a", "b"))
    assert prompt.startswith("You are an evaluator for math problem solutions.")
    assert "Question: What is 2+2?\nGround Truth Answer:4\n" in prompt
    assert "LLM 1 Response: resp C\nLLM 2 Response: resp A\nLLM 3 Response: resp B\n" in prompt
    assert prompt.endswith("'LLM 1 and LLM 3'.")
    assert PROMPT_TEMPLATE.count("{}") == 5


def test_verdict_unshuffles_positions_to_systems() -> None:
    order = ("conf", "to", "routellm")
    v = verdict_from_reply("q", order, "LLM 1 and LLM 3")
    assert v.parsed and v.best == frozenset({"conf", "routellm"})
    bad = verdict_from_reply("q", order, "no idea")
    assert not bad.parsed and bad.best == frozenset()


def test_scores_are_100_times_wins_over_parsed_questions() -> None:
    systems = ("a", "b", "c")
    order = ("a", "b", "c")
    verdicts = [
        verdict_from_reply("1", order, "LLM 1"),
        verdict_from_reply("2", order, "LLM 1 and LLM 2"),
        verdict_from_reply("3", order, "LLM 3"),
        verdict_from_reply("4", order, "All three"),
        verdict_from_reply("5", order, "unparseable"),
    ]
    scores = judge_scores(verdicts, systems)
    assert scores == {"a": 75.0, "b": 50.0, "c": 50.0}


def test_validate_judge_class_rejects_broken_judges() -> None:
    class NoJudge(Judge):
        pass

    class VarKw(Judge):
        def __init__(self, **kw: object) -> None:
            pass

        def judge(self, items):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    with pytest.raises(TypeError, match="does not implement"):
        validate_judge_class("x", NoJudge)
    with pytest.raises(TypeError, match="kwargs"):
        validate_judge_class("x", VarKw)
    with pytest.raises(TypeError, match="not a subclass"):
        validate_judge_class("x", object)


def test_identical_responses_are_a_tie_without_asking_unless_told_to_ask() -> None:
    from judges.best_of_three import BestOfThreeJudge

    items = [
        JudgeItem("1", "q1", "4", {"a": "same", "b": "same", "c": "same"}),
        JudgeItem("2", "q2", "5", {"a": "x", "b": "y", "c": "x"}),
    ]
    asked: list[str] = []

    def ask(prompts):  # type: ignore[no-untyped-def]
        asked.extend(prompts)
        return ["LLM 1"] * len(prompts)

    result = BestOfThreeJudge(seed=0).judge(items, ask=ask)
    assert len(asked) == 1 and "q2" in asked[0]  # only the question with different texts
    assert result.verdicts[0].best == frozenset("abc") and result.verdicts[0].parsed
    assert len(result.verdicts[1].best) == 1
    asked.clear()
    literal = BestOfThreeJudge(seed=0, identical="ask").judge(items, ask=ask)
    assert len(asked) == 2 and len(literal.verdicts[0].best) == 1
    with pytest.raises(ValueError, match="identical"):
        BestOfThreeJudge(identical="maybe")


def test_distinct_mode_asks_one_route_independent_prompt_per_question() -> None:
    from judges.best_of_three import BestOfThreeJudge
    from judges.protocol import build_distinct_prompt

    weak, strong = "Mixtral says 4", "GPT-4 says 5"
    # The same question under two routings (two CPT targets, or two label sets).
    routed_1 = JudgeItem("q", "what?", "5", {"a": weak, "b": strong, "c": weak})
    routed_2 = JudgeItem("q", "what?", "5", {"a": strong, "b": strong, "c": weak})
    all_same = JudgeItem("r", "why?", "1", {"a": weak, "b": weak, "c": weak})
    asked: list[str] = []

    def ask(prompts):  # type: ignore[no-untyped-def]
        asked.extend(prompts)
        # Name whichever position holds the strong model's text.
        return [f"LLM {1 if p.index(strong) < p.index(weak) else 2}" for p in prompts]

    judge = BestOfThreeJudge(seed=0, responses="distinct")
    result = judge.judge([routed_1, routed_2, all_same], ask=ask)
    # One prompt for both routings of "q" (the routes do not change it); none for "r".
    assert len(asked) == 1
    prompt = asked[0]
    assert "Two LLM-generated responses" in prompt and "LLM 3 Response" not in prompt
    assert prompt.count(weak) == 1 and prompt.count(strong) == 1
    assert prompt in {
        build_distinct_prompt("what?", "5", [weak, strong]),
        build_distinct_prompt("what?", "5", [strong, weak]),
    }
    # Every system that gave the named (strong) text is credited, and only those.
    assert result.verdicts[0].best == frozenset({"b"})
    assert result.verdicts[1].best == frozenset({"a", "b"})
    assert result.verdicts[2].best == frozenset("abc")
    assert result.scores == {"a": 200 / 3, "b": 100.0, "c": 100 / 3}
    with pytest.raises(ValueError, match="responses"):
        BestOfThreeJudge(responses="some")
