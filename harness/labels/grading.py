"""Graders of model answers against gold answers (TO-Router's accuracy labels).

* Short-answer QA (NQ-open, TriviaQA): SQuAD normalisation (lower case, drop punctuation
  and the articles a/an/the, squeeze white space), then an answer is correct when a
  normalised gold alias equals the normalised answer (``mode="exact"``, SQuAD exact match)
  or appears in it as a whole-word span (``mode="contains"``, the default: models answer
  in sentences, "The last moon landing was in December 1972."). Under "contains", an alias
  that the question itself contains is skipped: an answer that merely repeats the question
  ("Maria Maggi was buried in Milan under the name of Maria ...") does not count.
* Math word problems (MAWPS, GSM8K): the answer's final number equals the gold number.
  The final number is the one after the last ``####`` (GSM8K's own format) when there is
  one, else the last ``\\boxed{...}`` number, else the number after the last "answer is",
  else the last number in the text. Thousands separators, ``$`` and ``%`` are ignored.
* Multiple choice (MMLU): the option letter the answer names equals the gold letter.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?|-?\.\d+")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")

QA_DATASETS = frozenset({"nq_open", "triviaqa", "popqa"})
MATH_DATASETS = frozenset({"mawps", "gsm8k", "gsm8k_train", "gsm8k_test"})
# Multiple choice: the letter the answer names equals the gold letter.
CHOICE_DATASETS = frozenset({"mmlu_train"})
GRADED_DATASETS = QA_DATASETS | MATH_DATASETS | CHOICE_DATASETS


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower, no punctuation, no articles, single spaces."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def alias_match(
    response: str, aliases: Iterable[str], mode: str = "contains", question: str | None = None
) -> bool:
    """Whether ``response`` states one of the gold ``aliases`` (see the module docstring)."""
    if mode not in ("contains", "exact"):
        raise ValueError(f"mode must be 'contains' or 'exact', got {mode!r}")
    answer = normalize_answer(response)
    if not answer:
        return False
    padded = f" {answer} "
    asked = f" {normalize_answer(question)} " if question else ""
    for alias in aliases:
        gold = normalize_answer(alias)
        if not gold:
            continue
        if gold == answer:
            return True
        if mode == "contains" and f" {gold} " in padded and f" {gold} " not in asked:
            return True
    return False


def _to_float(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def _last_number(text: str) -> float | None:
    numbers = _NUMBER.findall(text)
    return _to_float(numbers[-1]) if numbers else None


def _first_number(text: str) -> float | None:
    m = _NUMBER.search(text)
    return _to_float(m.group(0)) if m else None


def final_number(response: str) -> float | None:
    """The number a math answer ends on, or None when it states none."""
    text = str(response).replace("$", "").replace("%", "")
    if "####" in text:
        value = _first_number(text.rsplit("####", 1)[1])
        if value is not None:
            return value
    boxed = _BOXED.findall(text)
    if boxed:
        value = _last_number(boxed[-1])
        if value is not None:
            return value
    parts = _ANSWER_IS.split(text)
    if len(parts) > 1:
        value = _first_number(parts[-1])
        if value is not None:
            return value
    return _last_number(text)


def number_match(response: str, gold: str | float, rel_tol: float = 1e-6) -> bool:
    """Whether the response's final number equals the gold number."""
    predicted = final_number(response)
    target = gold if isinstance(gold, float | int) else final_number(str(gold))
    if predicted is None or target is None:
        return False
    return math.isclose(predicted, float(target), rel_tol=rel_tol, abs_tol=1e-9)


def grade(
    dataset: str,
    response: str,
    answers: Iterable[str],
    qa_mode: str = "contains",
    question: str | None = None,
) -> bool:
    """Grade one response of a training dataset (``dataset`` picks the grader)."""
    answers = list(answers)
    if dataset in MATH_DATASETS:
        return any(number_match(response, a) for a in answers)
    if dataset in QA_DATASETS:
        return alias_match(response, answers, mode=qa_mode, question=question)
    if dataset in CHOICE_DATASETS:
        from harness.benchmarks.mmlu_local import chosen_letter

        return chosen_letter(response) in answers
    raise ValueError(
        f"no grader for dataset {dataset!r}; known: {sorted(GRADED_DATASETS)}"
    )
