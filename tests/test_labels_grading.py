"""Graders: SQuAD-normalised alias match and final-number match, checked on real GSM8K."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.labels.grading import (
    alias_match,
    final_number,
    grade,
    normalize_answer,
    number_match,
)

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Beatles!") == "beatles"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("U.S.A.") == "usa"


@pytest.mark.parametrize(
    ("response", "aliases", "mode", "expected"),
    [
        ("December 1972", ["14 December 1972 UTC", "December 1972"], "exact", True),
        ("It was in December 1972.", ["December 1972"], "contains", True),
        ("It was in December 1972.", ["December 1972"], "exact", False),
        ("Sinclair Lewis", ["(Harry) Sinclair Lewis", "Sinclair Lewis"], "exact", True),
        ("Bobby Scottish", ["Bobby Scott"], "contains", False),  # whole words only
        ("", ["anything"], "contains", False),
        ("the", ["The"], "contains", False),  # an alias that normalises to nothing
    ],
)
def test_alias_match(response: str, aliases: list[str], mode: str, expected: bool) -> None:
    assert alias_match(response, aliases, mode=mode) is expected


@pytest.mark.parametrize(
    ("response", "value"),
    [
        ("so 9 * 2 = 18.\n#### 18", 18.0),
        ("#### $1,250.50", 1250.5),
        ("The answer is 42. Check: 40 + 2 = 42, 7 apples", 42.0),
        ("We get \\boxed{3.5} in the end, not 7", 3.5),
        ("She makes $18 every day at the farmers' market.", 18.0),
        ("The change is -15 dollars", -15.0),
        ("no numbers here", None),
        ("#### 7.00", 7.0),
    ],
)
def test_final_number(response: str, value: float | None) -> None:
    assert final_number(response) == value


def test_an_answer_that_repeats_the_question_does_not_count() -> None:
    question = "Who was buried in Milan under the name of Maria Maggi to disguise her?"
    echo = "Maria Maggi was buried in Milan under the name of Maria"
    aliases = ["Maria Maggi", "Eva Peron"]
    assert alias_match(echo, aliases)  # without the question, the echo matches
    assert not alias_match(echo, aliases, question=question)
    assert alias_match("It was Eva Peron.", aliases, question=question)
    assert alias_match("Maria Maggi", aliases, mode="exact", question=question)
    assert not grade("triviaqa", echo, aliases, question=question)


def test_number_match_and_grade_dispatch() -> None:
    assert number_match("#### 20.00", "20")
    assert not number_match("#### 2000", "20")
    assert grade("mawps", "x = 504", ["504"])
    assert grade("nq_open", "Bobby Scott wrote it", ["Bobby Scott", "Bob Russell"])
    with pytest.raises(ValueError, match="no grader"):
        grade("mmlu", "A", ["A"])


def test_final_number_grader_agrees_with_routellm_on_gsm8k(data_dir: Path) -> None:
    """RouteLLM's per-response booleans on GSM8K: ours agree on the vast majority.

    The disagreements are RouteLLM's: its grader keeps only the digits of the final token,
    so "#### 20.00" counts as 2000 (wrong) and "#### 0.5" as 5.
    """
    from harness.training_data import load_gsm8k_test

    responses = pd.read_csv(data_dir / "routellm/gsm8k/gsm8k_responses.csv")
    gold = load_gsm8k_test(data_dir)
    answer_of = dict(zip(gold["prompt"], gold["answers"], strict=True))
    for model, minimum in ((WEAK, 0.985), (STRONG, 0.96)):
        ours = [
            number_match(r, answer_of[p][0])
            for p, r in zip(responses["prompt"], responses[f"{model}_response"], strict=True)
        ]
        agree = (pd.Series(ours) == responses[model].astype(bool)).mean()
        assert agree >= minimum, f"{model}: agreement {agree:.3f}"
