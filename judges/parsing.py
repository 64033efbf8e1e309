"""Reading a judge's reply: which of the numbered responses it named best.

The paper asks the judge to answer only ``'LLM 1'`` or ``'LLM 1 and LLM 3'``; real replies
vary ("LLM 2.", "llm1, llm 3", "LLMs 1 and 3", "Response 2", "1 & 3", "All three") and small
models add explanations ("LLM 2 is best because LLM 1 ..."). The rule, kept simple so it
can be stated in a report:

1. take the first line that mentions a response (an ``LLM``/``Response`` label, a bare
   number list, or "all"/"both"),
2. cut it at the first sentence end or explanation word ("because", "since", ":" ...),
   so numbers inside the explanation do not count,
3. collect every number that follows an ``LLM``/``Response`` label, including lists
   after one label ("LLMs 1, 2 and 3"); a reply of bare numbers ("2", "1 and 3") counts too,
4. "all"/"all three"/"every" names every response.

Numbers outside 1..n are ignored; a reply that names no valid response is *unparseable*
(returned as ``None``), counted and reported, never guessed.
"""

from __future__ import annotations

import re

# A label followed by a list of numbers: "LLM 1", "llm1", "LLMs 1 and 3", "Response #2",
# "LLM 1, LLM 3" (the second label starts its own match).
_LABELLED = re.compile(
    r"\b(?:llms?|responses?|models?|answers?)[\s#-]*"
    r"(\d+(?:\s*(?:,|&|and|\+|/|or)[\s#]*\d+)*)",
    re.IGNORECASE,
)
# A reply that is only numbers and separators: "2", "1 and 3", "1, 3."
_BARE = re.compile(r"^\W*(\d+(?:\s*(?:,|&|and|\+|/)\s*\d+)*)\W*$", re.IGNORECASE)
_ALL = re.compile(r"\b(?:all(?:\s+(?:three|3|of\s+them|responses|llms))?|every\s+\w+)\b", re.I)
_MENTION = re.compile(r"\b(?:llms?|responses?|models?|answers?)[\s#-]*\d|\ball\b|\bevery\b", re.I)
_LABEL_ONLY = re.compile(r"^(?:llms?|responses?)[\s#-]*(\d+)\W*$", re.IGNORECASE)
# Where an explanation starts: a sentence end (". " or a final "."), a colon, or a
# reasoning word. Numbers after it belong to the explanation, not to the answer.
_EXPLANATION = re.compile(
    r"(?:\.(?:\s|$)|:|;|\(|\b(?:because|since|as it|as they|which|while|whereas|but|however)\b)",
    re.IGNORECASE,
)


def parse_reply(reply: str, n_responses: int = 3) -> frozenset[int] | None:
    """The 1-based positions a judge reply names best, or ``None`` if it names none.

    >>> sorted(parse_reply("LLM 1 and LLM 3"))
    [1, 3]
    >>> sorted(parse_reply("llm1, llm 3"))
    [1, 3]
    >>> parse_reply("I cannot decide") is None
    True
    """
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    for index, line in enumerate(lines):
        line = line.strip("*`'\" ")
        bare = _BARE.match(line)
        if bare:
            picked = _numbers(bare.group(1), n_responses)
            if picked:
                return picked
            continue
        if not _MENTION.search(line):
            continue
        answer = _answer_part(line)
        if _ALL.search(answer) and not _LABELLED.search(answer):
            return frozenset(range(1, n_responses + 1))
        picked = frozenset(
            k for m in _LABELLED.finditer(answer) for k in _numbers(m.group(1), n_responses)
        )
        if picked:
            # A list written one label per line ("LLM 1\nLLM 3") continues on the next lines.
            for more in lines[index + 1 :]:
                only = _LABEL_ONLY.match(more.strip("*`'\" -"))
                if not only:
                    break
                picked |= _numbers(only.group(1), n_responses)
            return picked
    return None


def _answer_part(line: str) -> str:
    """The line up to where an explanation starts (but never empty before a first label)."""
    first_label = _MENTION.search(line)
    start = first_label.end() if first_label else 0
    cut = _EXPLANATION.search(line, start)
    return line[: cut.start()] if cut else line


def _numbers(text: str, n_responses: int) -> frozenset[int]:
    return frozenset(k for k in (int(d) for d in re.findall(r"\d+", text)) if 1 <= k <= n_responses)
