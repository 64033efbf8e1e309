"""Table 2's second model pair: GSM8K answered by two local models, as a benchmark.

The shared data holds outcomes for GPT-4 vs Mixtral only. :func:`build_local_gsm8k` asks the
LLM layer (cached, resumable) for greedy answers of a weak and a strong local model (default
Qwen2.5-Coder 0.5B and 1.5B of the model pack) to the first ``limit`` GSM8K test questions
(after RouteLLM's decontamination), grades each answer by its final number against the gold
answer (:func:`harness.labels.grading.number_match`), and writes a benchmark file **without
the question text**: ``id`` (the GSM8K prompt id of :func:`harness.benchmarks.routellm.
load_gsm8k`), ``prompt_sha256``, ``weak``/``strong`` (correct or not), the two responses
and the model names. :func:`load_gsm8k_local` joins it with the data directory at load time
(registered as the benchmark ``gsm8k_qwen``), so any routing system can be evaluated on the
pair like on the built-in benchmarks.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import paths
from harness.benchmarks.routellm import gsm8k_gold_answers, load_gsm8k
from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.labels.grading import number_match
from harness.llm.client import LLMClient, Request
from harness.llm.endpoints import resolve_endpoint
from harness.records import Benchmark
from harness.training_data import prompt_sha256

#: The committed outcomes of the local pair (packaged with the library, no question text).
DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "gsm8k_qwen.jsonl"
DEFAULT_MMLU_FILE = Path(__file__).resolve().parent / "data" / "mmlu_qwen.jsonl"
INSTRUCTION = "Solve the problem step by step, then end with 'The answer is N.'"
COLUMNS = (
    "id",
    "prompt_sha256",
    "weak",
    "strong",
    "weak_response",
    "strong_response",
    "weak_model",
    "strong_model",
)


def messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{question.strip()}\n{INSTRUCTION}"}]


def build_local_gsm8k(
    *,
    limit: int | None = None,
    weak: str = "qwen-0.5b",
    strong: str = "qwen-1.5b",
    out: Path = DEFAULT_FILE,
    data_dir: Path | None = None,
    max_tokens: int = 384,
    endpoints_file: Path | None = None,
    progress: bool = True,
    chunk_size: int = 40,
    threads: int | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Answer, grade and write the GSM8K file; returns a summary (accuracies, tokens).

    ``limit``: the first that many test questions (None: all 1,307 RouteLLM keeps). The file
    holds exactly the questions asked for: a smaller limit than the file's makes it shorter.
    """
    data_dir = data_dir or paths.data_dir()
    base = load_gsm8k(data_dir)
    gold = gsm8k_gold_answers(data_dir)
    rows = [
        (pid, q) for pid, q in zip(base.prompt_ids, base.prompts, strict=True) if q.strip() in gold
    ][:limit]
    question = dict(rows)
    return build_local_pair(
        rows,
        grade=lambda pid, text: number_match(text, gold[question[pid].strip()]),
        messages=messages,
        name="gsm8k",
        weak=weak,
        strong=strong,
        out=out,
        max_tokens=max_tokens,
        endpoints_file=endpoints_file,
        progress=progress,
        chunk_size=chunk_size,
        threads=threads,
        batch_size=batch_size,
    )


def build_local_mmlu(
    *,
    limit: int = 1000,
    weak: str = "qwen-0.5b",
    strong: str = "qwen-1.5b",
    out: Path = DEFAULT_MMLU_FILE,
    data_dir: Path | None = None,
    max_tokens: int = 1,
    constrained: bool = True,
    seed: int = 0,
    endpoints_file: Path | None = None,
    progress: bool = True,
    chunk_size: int = 50,
    threads: int | None = None,
) -> dict[str, Any]:
    """MMLU test questions (RouteLLM's decontaminated set), ``limit`` of them stratified over
    the 57 subjects, answered with one letter by both models and graded against the gold
    letter (:mod:`harness.benchmarks.mmlu_local`); writes the ``mmlu_qwen`` file.

    ``constrained`` (the default) decodes greedily under a grammar that admits only the four
    letters: the model's most likely letter, as in log-likelihood MMLU evaluation. Free text
    (``constrained=False``) lets small chat models start explaining instead: at 8 tokens the
    1.5B model named no letter on half of the questions and scored below the 0.5B one."""
    from harness.benchmarks import mmlu_local
    from harness.benchmarks.routellm import load_mmlu

    base = load_mmlu(data_dir or paths.data_dir())
    groups = list(base.groups or [])
    letters = mmlu_local.mmlu_gold_letters()
    picked = mmlu_local.stratified_sample(groups, base.prompt_ids, limit, seed=seed)
    rows = [(base.prompt_ids[i], base.prompts[i]) for i in picked]
    gold = {
        base.prompt_ids[i]: letters[(groups[i], mmlu_local.normalize_prompt(base.prompts[i]))]
        for i in picked
    }
    return build_local_pair(
        rows,
        grade=lambda pid, text: mmlu_local.chosen_letter(text) == gold[pid],
        messages=mmlu_local.messages,
        name="mmlu",
        weak=weak,
        strong=strong,
        out=out,
        max_tokens=max_tokens,
        choices=mmlu_local.LETTERS if constrained else (),
        endpoints_file=endpoints_file,
        progress=progress,
        chunk_size=chunk_size,
        threads=threads,
    )


def build_local_pair(
    rows: list[tuple[str, str]],
    *,
    grade: Callable[[str, str], bool],
    messages: Callable[[str], list[dict[str, str]]],
    name: str,
    weak: str,
    strong: str,
    out: Path,
    max_tokens: int,
    choices: tuple[str, ...] = (),
    endpoints_file: Path | None = None,
    progress: bool = True,
    chunk_size: int = 20,
    threads: int | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Greedy answers of both models to ``rows`` (prompt id, question), graded by
    ``grade(prompt id, answer)``, written to ``out`` without the question text. Non-empty
    ``choices`` constrain each answer to one of them (:attr:`Request.choices`). Every row
    records its ``decoding`` (answer budget and choices) and its ``batch_size``: on an
    in-process model, up to ``batch_size`` free-text answers decode together as parallel
    sequences of one llama.cpp batch, a finished answer's sequence going to the next
    question (:meth:`harness.llm.client.LLMClient.run_many`). A chunk of ``chunk_size``
    questions is written out whole (a stopped build keeps every finished chunk; the LLM
    cache keeps every finished answer)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch size {batch_size!r} is not allowed; want a whole number >= 1")
    # Free-text answers of several questions decode as one batch; letter choices are one
    # token each and go one at a time.
    batch_size = 1 if choices else batch_size
    summary: dict[str, Any] = {"n": len(rows), "file": str(out)}
    clients = {
        side: LLMClient(resolve_endpoint(spec, endpoints_file), n_threads=threads)
        for side, spec in (("weak", weak), ("strong", strong))
    }
    # Rows already in the output file (same question text, same pair) are kept: the file
    # travels with the repository while the LLM cache stays on the machine that filled it,
    # so a build continued on another machine asks only for the questions still missing.
    decoding = {"max_tokens": max_tokens, "choices": list(choices)}
    done = _reusable_rows(out, weak=weak, strong=strong, decoding=decoding)
    summary["reused"] = sum(
        prompt_sha256(q) == done.get(pid, {}).get("prompt_sha256") for pid, q in rows
    )
    records: list[dict[str, Any]] = []
    # Chunks, each written out whole: a run stopped part-way leaves a valid, shorter file
    # (and the LLM cache), and a rerun resumes from the file and the cache.
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        todo = [
            (pid, q)
            for pid, q in chunk
            if done.get(pid, {}).get("prompt_sha256") != prompt_sha256(q)
        ]
        answers: dict[str, dict[str, str]] = {"weak": {}, "strong": {}}
        for side, client in clients.items() if todo else ():
            requests = [
                Request.make(
                    messages(q), temperature=0.0, max_tokens=max_tokens, seed=0, choices=choices
                )
                for _, q in todo
            ]
            desc = f"{name} {side} {start + len(chunk)}/{len(rows)}"
            results = client.run_many(
                requests, desc=desc, progress=progress, batch_size=batch_size
            )
            answers[side] = {pid: r.text for (pid, _), r in zip(todo, results, strict=True)}
        for pid, q in chunk:
            weak_text = answers["weak"].get(pid, done.get(pid, {}).get("weak_response", ""))
            strong_text = answers["strong"].get(pid, done.get(pid, {}).get("strong_response", ""))
            records.append(
                {
                    "id": pid,
                    "prompt_sha256": prompt_sha256(q),
                    "weak": bool(grade(pid, weak_text)),
                    "strong": bool(grade(pid, strong_text)),
                    "weak_response": weak_text,
                    "strong_response": strong_text,
                    "weak_model": weak,
                    "strong_model": strong,
                    "decoding": decoding,
                    # How the answers were decoded: 1, one question at a time; more, up to
                    # that many questions decoding together in one llama.cpp batch (the
                    # same greedy answer up to a near tie, :mod:`harness.llm.inprocess`).
                    # Rows from before this field were all answered one at a time.
                    "batch_size": batch_size
                    if pid in answers["weak"] or pid in answers["strong"]
                    else done.get(pid, {}).get("batch_size", 1),
                }
            )
        _write_jsonl(out, records)
    for side, client in clients.items():
        summary[f"{side}_tokens"] = client.usage.prompt_tokens + client.usage.completion_tokens
        summary[f"{side}_cache_hits"] = client.usage.cache_hits
    summary["weak_accuracy"] = float(np.mean([r["weak"] for r in records])) if records else 0.0
    summary["strong_accuracy"] = float(np.mean([r["strong"] for r in records])) if records else 0.0
    return summary


def _reusable_rows(
    path: Path, *, weak: str, strong: str, decoding: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Rows of an earlier build of ``path`` by the same pair and decoding, by id (empty when
    none). Rows from before decoding was recorded count as free text at today's budget."""
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a damaged line is simply answered again
        if (
            isinstance(row, dict)
            and row.get("weak_model") == weak
            and row.get("strong_model") == strong
            and isinstance(row.get("weak_response"), str)
            and isinstance(row.get("strong_response"), str)
            and row.get("decoding", {"max_tokens": decoding["max_tokens"], "choices": []})
            == decoding
        ):
            rows[str(row.get("id"))] = row
    return rows


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; this file is committed and shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_gsm8k_local(
    data_dir: Path | None = None, path: Path | None = None, name: str = "gsm8k_qwen"
) -> Benchmark:
    """The local-pair GSM8K benchmark: the committed outcomes joined with the question text."""
    path = Path(path or DEFAULT_FILE)
    build = "`routerlab benchmark build-local-gsm8k`"
    return _load_local_pair(load_gsm8k(data_dir), path, name, build, "GSM8K test")


def load_mmlu_local(
    data_dir: Path | None = None, path: Path | None = None, name: str = "mmlu_qwen"
) -> Benchmark:
    """The local-pair MMLU benchmark: the committed outcomes joined with the question text
    (groups: the MMLU subject, for folds by subject)."""
    from harness.benchmarks.routellm import load_mmlu

    path = Path(path or DEFAULT_MMLU_FILE)
    build = "`routerlab benchmark build-local-mmlu --limit 1000`"
    return _load_local_pair(load_mmlu(data_dir), path, name, build, "MMLU test")


def _load_local_pair(base: Benchmark, path: Path, name: str, build: str, what: str) -> Benchmark:
    if not path.is_file():
        raise DataError(
            f"{path} does not exist; build it with {build} (needs the local model pack: "
            "`routerlab models install qwen-0.5b qwen-1.5b`)"
        )
    df = pd.read_json(path, lines=True, dtype={"id": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing or df.empty:
        raise DataError(f"{path}: missing columns {missing} or no rows; rebuild the file")
    index = {pid: i for i, pid in enumerate(base.prompt_ids)}
    unknown = [i for i in df["id"] if i not in index]
    if unknown:
        raise DataError(f"{path}: ids {unknown[:3]} are not {what} prompts of the data dir")
    prompts = [base.prompts[index[i]] for i in df["id"]]
    changed = [
        i
        for i, p, h in zip(df["id"], prompts, df["prompt_sha256"], strict=True)
        if prompt_sha256(p) != h
    ]
    if changed:
        raise DataError(
            f"{path}: the question text of {changed[:3]} differs from the data dir's {what} "
            "(prompt_sha256 mismatch); use the pinned data (`routerlab data fetch`)"
        )
    groups = [base.groups[index[i]] for i in df["id"]] if base.groups else None
    return Benchmark(
        name=name,
        prompt_ids=df["id"].tolist(),
        prompts=prompts,
        weak_score=df["weak"].astype(bool).to_numpy(dtype=float),
        strong_score=df["strong"].astype(bool).to_numpy(dtype=float),
        weak_model=str(df["weak_model"].iloc[0]),
        strong_model=str(df["strong_model"].iloc[0]),
        weak_response=df["weak_response"].fillna("").astype(str).tolist(),
        strong_response=df["strong_response"].fillna("").astype(str).tolist(),
        groups=groups,
        source_sha256={**base.source_sha256, path.name: sha256_file(path)},
        meta={"metric": "accuracy", "source": f"{path.name} joined with {what}",
              # the base benchmark's task: gsm8k_qwen asks GSM8K's questions
              "task": base.meta.get("task") or base.name},
    )
