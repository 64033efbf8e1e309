"""What part of a prompt the query embedding reads.

all-MiniLM-L6-v2 reads the first 256 word pieces of a text and drops the rest. When every
prompt of a benchmark opens with the same few-shot examples (300 tokens of them is common in
public multi-model outcome files), every prompt then gets the same embedding, every trained
router returns constant scores, and the evaluation reads CPT50 50.0 with a zero-width CI.

Strategies (``embedding_input``):

* ``"full"``: the prompt as it is (the model truncates at its limit);
* ``"strip-prefix"``: drop the prefix shared by every prompt of the set (cut back to a
  whitespace boundary, so no word is split) — the part that differs between rows;
* ``"tail"``: the last ``tail_words`` words (the question usually comes last);
* ``"auto"`` (default): ``strip-prefix`` when the prompts share a prefix of at least
  :data:`MIN_SHARED_PREFIX` characters, else the prompt as it is. No built-in benchmark or
  training set shares such a prefix, so they embed exactly as before.

Whatever the strategy, the pipeline logs a warning with the share of texts still longer
than the model reads (:func:`harness.embeddings.truncated_count`), naming ``tail`` as the
way to keep their ends.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.errors import ConfigError

STRATEGIES = ("auto", "full", "strip-prefix", "tail")
MIN_SHARED_PREFIX = 200  # characters; shorter shared openings ("Question: ") are harmless
TAIL_WORDS = 150  # ~200 word pieces: inside MiniLM's 256 with room for long words


def shared_prefix(texts: Sequence[str]) -> str:
    """The longest prefix every text starts with, cut back to a whitespace boundary."""
    if len(texts) < 2:
        return ""
    prefix = os.path.commonprefix(list(texts))
    if not prefix:
        return ""
    if all(len(t) > len(prefix) and not t[len(prefix)].isspace() for t in texts):
        cut = max(prefix.rfind(" "), prefix.rfind("\n"))
        prefix = prefix[: cut + 1] if cut >= 0 else ""
    return prefix


def _tail(text: str, words: int) -> str:
    parts = text.split()
    return text if len(parts) <= words else " ".join(parts[-words:])


def embedding_texts(
    texts: Sequence[str], strategy: str = "auto", *, tail_words: int = TAIL_WORDS
) -> list[str]:
    """The texts to embed for ``texts`` under ``strategy`` (module docstring)."""
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"embedding_input {strategy!r} is unknown; use one of {', '.join(STRATEGIES)}"
        )
    out = [str(t) for t in texts]
    if strategy == "full":
        return out
    if strategy in ("strip-prefix", "auto"):
        prefix = shared_prefix(out)
        if prefix and (strategy == "strip-prefix" or len(prefix) >= MIN_SHARED_PREFIX):
            out = [t[len(prefix):] or t for t in out]
    if strategy == "tail":
        return [_tail(t, tail_words) for t in out]
    return out
