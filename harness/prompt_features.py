"""What a router reads about a prompt: its embedding, optionally with text statistics.

Feature sets (``features``):

* ``"embedding"`` (default): the sentence embedding alone, as in the paper.
* ``"embedding+stats"``: the embedding followed by :data:`STATISTICS`, a dozen statistics of
  the raw prompt text (length, how many numbers and how long the longest, sentences, math
  symbols, ...). They carry difficulty that a sentence embedding averages away: MiniLM
  embeds "what" a question is about, not how many steps it takes. On GSM8K, cross-fitted on
  the pair's own outcomes (5 fold seeds, logistic regression C = 0.1), CPT(50 %) goes from
  36.4 (35.4-37.8) with the embedding alone to 31.7 (31.1-32.9) with the statistics added.

The statistics are standardised with the mean and spread of the *training* prompts (never
the scored ones) and scaled so that their block has about the norm ``weight`` (1: as long as
the unit-norm embedding), then appended. Routers L2-normalise their input rows
(:func:`routers._fitting.check_X`), so cosine-based routers (kNN, SW ranking) see both parts.
Decontamination still compares embeddings only.

A shipped router (:mod:`harness.serving`) stores its :class:`StatisticsScaler` and computes
the same statistics on the prompts it routes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.errors import ConfigError

EMBEDDING = "embedding"
EMBEDDING_STATS = "embedding+stats"
FEATURE_SETS = (EMBEDDING, EMBEDDING_STATS)

#: Names of the text statistics, in column order.
STATISTICS = (
    "log_chars",
    "log_words",
    "log_numbers",
    "log_distinct_numbers",
    "longest_number_digits",
    "log_sentences",
    "has_percent",
    "has_slash",
    "log_math_symbols",
    "digit_share",
    "log_lines",
    "mean_word_length",
)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_MATH_SYMBOLS = "+-*=^"


def check_features(name: str) -> str:
    """``name`` if it is a feature set, else a ConfigError listing them."""
    if name not in FEATURE_SETS:
        raise ConfigError(f"features {name!r} is unknown; use one of {', '.join(FEATURE_SETS)}")
    return name


def uses_statistics(features: str) -> bool:
    return check_features(features) == EMBEDDING_STATS


#: What a router's name gets when it reads the statistics: the report and the tuned-parameter
#: records key systems by it, since the two variants are different systems.
STATS_SUFFIX = "+stats"


def router_variant(router: str, features: str) -> str:
    """``router`` for the embedding alone, ``router+stats`` with the text statistics."""
    return router + STATS_SUFFIX if uses_statistics(features) else router


def text_statistics(texts: Sequence[str]) -> np.ndarray:
    """An ``(n, len(STATISTICS))`` float64 array of the statistics of each text."""
    rows = np.zeros((len(texts), len(STATISTICS)), dtype=np.float64)
    for i, text in enumerate(texts):
        numbers = _NUMBER.findall(text)
        words = text.split()
        rows[i] = (
            math.log1p(len(text)),
            math.log1p(len(words)),
            math.log1p(len(numbers)),
            math.log1p(len(set(numbers))),
            max((len(n) for n in numbers), default=0),
            math.log1p(len(_SENTENCE_END.findall(text))),
            "%" in text,
            "/" in text,
            math.log1p(sum(text.count(c) for c in _MATH_SYMBOLS)),
            sum(c.isdigit() for c in text) / max(len(text), 1),
            math.log1p(text.count("\n")),
            sum(len(w) for w in words) / len(words) if words else 0.0,
        )
    return rows


@dataclass(frozen=True)
class StatisticsScaler:
    """Standardises text statistics with the training prompts' mean and spread.

    Attributes:
        mean / scale: per statistic, over the training prompts (a constant statistic gets
            scale 1, so it becomes 0 everywhere).
        weight: the statistics block's approximate norm next to the unit-norm embedding.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weight: float = 1.0

    @classmethod
    def fit(cls, statistics: np.ndarray, weight: float = 1.0) -> StatisticsScaler:
        if statistics.shape[0] == 0:
            raise ValueError("cannot standardise text statistics without training prompts")
        std = statistics.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(tuple(statistics.mean(axis=0).tolist()), tuple(std.tolist()), float(weight))

    def transform(self, statistics: np.ndarray) -> np.ndarray:
        z = (statistics - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z * (self.weight / math.sqrt(len(self.mean))), dtype=np.float32)

    def append(self, embeddings: np.ndarray, statistics: np.ndarray) -> np.ndarray:
        """The router input: each embedding row followed by its scaled statistics."""
        return np.hstack([np.asarray(embeddings, dtype=np.float32), self.transform(statistics)])

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(STATISTICS), **asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StatisticsScaler:
        if list(raw.get("names", [])) != list(STATISTICS):
            raise ConfigError(
                "the router's text statistics differ from this routerlab's "
                f"({raw.get('names')} vs {list(STATISTICS)}); export it again"
            )
        return cls(tuple(raw["mean"]), tuple(raw["scale"]), float(raw["weight"]))


def router_input(
    embeddings: np.ndarray, prompts: Sequence[str], scaler: StatisticsScaler | None
) -> np.ndarray:
    """What a fitted router scores: the embeddings, with statistics when it was fitted so."""
    if scaler is None:
        return np.asarray(embeddings, dtype=np.float32)
    return scaler.append(embeddings, text_statistics(prompts))
