"""A synthetic benchmark file that a router can learn: shared by the protocol, nested-tuning
and system tests (imported as ``synthetic``; pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

# Two kinds of prompt the MiniLM embedding tells apart: on arithmetic the strong model alone
# is right; on the writing requests the weak model is right and the strong one only on two
# in three (a tie, else a weak win). A router that learns the kind separates the classes
# perfectly: strong 40/48, weak 24/48, and the oracle's CPT(50) of 8/48 = 16.7 % is reached
# by sending the arithmetic first.
_NUMBERS = ["seventeen", "forty-two", "three hundred", "ninety-one", "eight", "sixty-five",
            "twelve", "one thousand", "twenty-nine", "five hundred", "seventy", "eleven"]
_THINGS = ["a lighthouse", "autumn leaves", "a lost umbrella", "the ocean at night",
           "a grandmother's kitchen", "a city in the rain", "an old violin", "a snowy owl",
           "the first day of school", "a desert sunrise", "a broken clock", "a summer market"]


_TEMPLATES = (
    ("Compute {a} multiplied by {b} minus {i}.", "Write a gentle poem about {thing}, verse {i}."),
    ("A train travels {a} miles, then {b} more; subtract {i} and give the distance.",
     "Compose a song for children describing {thing}; it is song number {i}."),
)


def synthetic_benchmark(
    path: Path, n: int = 24, groups: bool = False, variant: int = 0, models: bool = False
) -> Path:
    math_text, poem_text = _TEMPLATES[variant]
    rows = []
    for i in range(n):
        a, b = _NUMBERS[i % len(_NUMBERS)], _NUMBERS[(i * 5 + 3) % len(_NUMBERS)]
        rows.append({"id": f"math{i}", "prompt": math_text.format(a=a, b=b, i=i),
                     "weak": False, "strong": True})
        rows.append({"id": f"poem{i}",
                     "prompt": poem_text.format(thing=_THINGS[i % len(_THINGS)], i=i),
                     "weak": True, "strong": i % 3 != 0})
    frame = pd.DataFrame(rows)
    if models:  # a priced pair, so a study can compute its costs
        frame["weak_model"], frame["strong_model"] = "qwen-0.5b", "qwen-1.5b"
    if groups:  # pairs of rows form one question group
        frame["group"] = [f"g{i // 2}" for i in range(len(frame))]
    frame.to_csv(path, index=False)
    return path
