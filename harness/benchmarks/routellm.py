"""RouteLLM's evaluation benchmarks: GSM8K, MMLU and MT-Bench, decontaminated.

The files come from lm-sys/RouteLLM ``routellm/evals/`` (pinned in
``harness/data_sources.json``, read through :func:`harness.data.require`). The model pair is
RouteLLM's and the paper's: strong ``gpt-4-1106-preview``, weak
``mistralai/Mixtral-8x7B-Instruct-v0.1``.

Decontamination reproduces ``routellm/evals/benchmarks.py``: each benchmark's
``contaminated_prompts.jsonl`` lists ``eval_prompt`` texts that overlap the router's
training data; a GSM8K/MMLU row is dropped when its ``prompt`` equals one of them exactly,
an MT-Bench question when its turn 1 *or* turn 2 equals one. Resulting sizes and scores
(checked by the tests):

=========  =======  ==============  ==============
benchmark  prompts  weak            strong
=========  =======  ==============  ==============
MT-Bench   72       8.281           9.212
GSM8K      1,307    63.73 %         85.77 %
MMLU       14,037   68.09 %         80.59 %
=========  =======  ==============  ==============

MT-Bench: a prompt is a question; the router sees turn 1; the outcome is the mean GPT-4
judge score (1-10) over both turns (RouteLLM averages the per-turn judgements, and every
question has both). ``weak_response``/``strong_response`` hold the turn-1 answers;
:func:`load_mt_bench_turns` gives both turns (prompts, answers, scores) for cost and judges.
MMLU keeps RouteLLM's 105 duplicate prompt texts (same question in two subjects' files), as
RouteLLM does; prompt ids stay unique.

Prompt ids are stable across decontamination: ``gsm8k-<row>``, ``mmlu-<subject>-<row>``
(row in the upstream CSV), MT-Bench ``<question_id>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness import data as data_files
from harness import paths
from harness.errors import DataError
from harness.records import Benchmark

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"

GSM8K_RESPONSES = "routellm/gsm8k/gsm8k_responses.csv"
GSM8K_CONTAMINATED = "routellm/gsm8k/contaminated_prompts.jsonl"
MMLU_RESPONSES_DIR = "routellm/mmlu/responses/"
MMLU_CONTAMINATED = "routellm/mmlu/contaminated_prompts.jsonl"
MT_BENCH_QUESTIONS = "routellm/mt_bench/question.jsonl"
MT_BENCH_JUDGEMENTS = "routellm/mt_bench/judgements.jsonl"
MT_BENCH_CONTAMINATED = "routellm/mt_bench/contaminated_prompts.jsonl"


def _root(data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else paths.data_dir()


def _read(relpath: str, root: Path, sha: dict[str, str], **read_kwargs: object) -> pd.DataFrame:
    """Read a manifest file (checked by :func:`require`) and record its sha256."""
    path = data_files.require(relpath, root)
    sha[relpath] = data_files.sha256_of(relpath)
    try:
        if relpath.endswith(".csv"):
            frame: pd.DataFrame = pd.read_csv(path, **read_kwargs)  # type: ignore[call-overload]
            return frame
        lines: pd.DataFrame = pd.read_json(path, lines=True, **read_kwargs)  # type: ignore[call-overload]
        return lines
    except (ValueError, OSError) as exc:  # sha256 matched, so this is a loader bug
        raise DataError(f"{path}: cannot be parsed ({exc}); `routerlab data check`") from exc


def _contaminated(relpath: str, root: Path, sha: dict[str, str]) -> set[str]:
    return set(_read(relpath, root, sha)["eval_prompt"].tolist())


def _bool_column(df: pd.DataFrame, column: str, relpath: str) -> np.ndarray:
    if column not in df.columns:
        raise DataError(f"{relpath}: no column {column!r}; `routerlab data fetch` restores it")
    values = df[column]
    if values.isna().any():
        raise DataError(f"{relpath}: column {column!r} has empty outcomes")
    return values.astype(bool).to_numpy(dtype=float)


def load_gsm8k(data_dir: Path | None = None) -> Benchmark:
    """GSM8K test (1,319 prompts, 1,307 after decontamination) with both models' answers."""
    root = _root(data_dir)
    sha: dict[str, str] = {}
    df = _read(GSM8K_RESPONSES, root, sha)
    contaminated = _contaminated(GSM8K_CONTAMINATED, root, sha)
    df["prompt_id"] = [f"gsm8k-{i}" for i in range(len(df))]
    keep = ~df["prompt"].isin(contaminated)
    dropped = int((~keep).sum())
    df = df[keep].reset_index(drop=True)
    return Benchmark(
        name="gsm8k",
        prompt_ids=df["prompt_id"].tolist(),
        prompts=df["prompt"].tolist(),
        weak_score=_bool_column(df, WEAK_MODEL, GSM8K_RESPONSES),
        strong_score=_bool_column(df, STRONG_MODEL, GSM8K_RESPONSES),
        weak_model=WEAK_MODEL,
        strong_model=STRONG_MODEL,
        weak_response=df[f"{WEAK_MODEL}_response"].fillna("").astype(str).tolist(),
        strong_response=df[f"{STRONG_MODEL}_response"].fillna("").astype(str).tolist(),
        source_sha256=sha,
        dropped_contaminated=dropped,
        meta={"metric": "accuracy", "source": "lm-sys/RouteLLM routellm/evals/gsm8k",
              "task": "gsm8k"},
    )


def mmlu_subjects() -> list[str]:
    """The 57 MMLU subjects, in file-name order."""
    names = data_files.files_under(MMLU_RESPONSES_DIR)
    return [re.sub(r"^mmlu_|\.csv$", "", Path(n).name) for n in names]


def load_mmlu(data_dir: Path | None = None) -> Benchmark:
    """MMLU, 57 subjects (14,042 prompts, 14,037 after decontamination)."""
    root = _root(data_dir)
    sha: dict[str, str] = {}
    frames = []
    for subject in mmlu_subjects():
        relpath = f"{MMLU_RESPONSES_DIR}mmlu_{subject}.csv"
        df = _read(relpath, root, sha)
        for column in (WEAK_MODEL, STRONG_MODEL):
            df[column] = _bool_column(df, column, relpath)
        df["prompt_id"] = [f"mmlu-{subject}-{i}" for i in range(len(df))]
        df["subject"] = subject
        frames.append(df)
    all_rows = pd.concat(frames, ignore_index=True)
    contaminated = _contaminated(MMLU_CONTAMINATED, root, sha)
    keep = ~all_rows["prompt"].isin(contaminated)
    dropped = int((~keep).sum())
    all_rows = all_rows[keep].reset_index(drop=True)
    return Benchmark(
        name="mmlu",
        prompt_ids=all_rows["prompt_id"].tolist(),
        prompts=all_rows["prompt"].tolist(),
        weak_score=all_rows[WEAK_MODEL].to_numpy(dtype=float),
        strong_score=all_rows[STRONG_MODEL].to_numpy(dtype=float),
        weak_model=WEAK_MODEL,
        strong_model=STRONG_MODEL,
        groups=all_rows["subject"].tolist(),
        source_sha256=sha,
        dropped_contaminated=dropped,
        # groups are subjects, not questions: splits by question use the prompt text
        meta={"metric": "accuracy", "source": "lm-sys/RouteLLM routellm/evals/mmlu",
              "group_kind": "subject", "task": "mmlu"},
    )


# -- MT-Bench ------------------------------------------------------------------------------

_SINGLE_ANSWER = re.compile(
    r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.S
)
_CONVERSATION = re.compile(
    r"<\|The Start of Assistant A's Conversation with User\|>\n(.*?)"
    r"<\|The End of Assistant A's Conversation with User\|>",
    re.S,
)
_ASSISTANT_TURN = re.compile(r"### Assistant A:\n(.*?)(?=\n\n### User:\n|\Z)", re.S)


def _answer_text(user_prompt: str, turn: int) -> str:
    """The assistant's answer for ``turn`` out of the judge prompt that holds it."""
    if turn == 1:
        m = _SINGLE_ANSWER.search(user_prompt)
        return m.group(1).strip() if m else ""
    conv = _CONVERSATION.search(user_prompt)
    if not conv:
        return ""
    answers = _ASSISTANT_TURN.findall(conv.group(1))
    return answers[turn - 1].strip() if len(answers) >= turn else ""


def _mt_bench_frames(
    root: Path, sha: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    questions = _read(MT_BENCH_QUESTIONS, root, sha)
    judgements = _read(MT_BENCH_JUDGEMENTS, root, sha)
    contaminated = _contaminated(MT_BENCH_CONTAMINATED, root, sha)
    questions["turn1"] = questions["turns"].str[0]
    questions["turn2"] = questions["turns"].str[1]
    keep = ~(questions["turn1"].isin(contaminated) | questions["turn2"].isin(contaminated))
    dropped = int((~keep).sum())
    questions = questions[keep].reset_index(drop=True)
    judgements = judgements[
        judgements["model"].isin([WEAK_MODEL, STRONG_MODEL])
        & judgements["question_id"].isin(questions["question_id"])
    ].copy()
    if judgements["score"].isna().any() or (judgements["score"] < 0).any():
        raise DataError(f"{root / MT_BENCH_JUDGEMENTS}: judgements without a score")
    return questions, judgements, dropped


def load_mt_bench_turns(data_dir: Path | None = None) -> pd.DataFrame:
    """Both turns of the decontaminated MT-Bench, one row per (question, turn, model).

    Columns: ``prompt_id`` (the benchmark's id), ``question_id``, ``turn`` (1 or 2),
    ``model``, ``prompt`` (that turn's user text), ``response`` (the model's answer to it),
    ``score`` (GPT-4 judge, 1-10).
    """
    root = _root(data_dir)
    questions, judgements, _ = _mt_bench_frames(root, {})
    turn_text = questions.set_index("question_id")[["turn1", "turn2"]]
    rows = []
    for qid, turn, model, user_prompt, score in zip(
        judgements["question_id"].astype(int).tolist(),
        judgements["turn"].astype(int).tolist(),
        judgements["model"].tolist(),
        judgements["user_prompt"].astype(str).tolist(),
        judgements["score"].astype(float).tolist(),
        strict=True,
    ):
        rows.append(
            {
                "prompt_id": str(qid),
                "question_id": qid,
                "turn": turn,
                "model": model,
                "prompt": turn_text.at[qid, f"turn{turn}"],
                "response": _answer_text(user_prompt, turn),
                "score": score,
            }
        )
    return pd.DataFrame(rows).sort_values(["question_id", "model", "turn"]).reset_index(drop=True)


def load_mt_bench(data_dir: Path | None = None) -> Benchmark:
    """MT-Bench (80 questions, 72 after decontamination): route on turn 1, score both turns."""
    root = _root(data_dir)
    sha: dict[str, str] = {}
    questions, judgements, dropped = _mt_bench_frames(root, sha)
    # One judgement per (question, model, turn): mean over turns is the question's score.
    per_turn = judgements.groupby(["question_id", "model", "turn"])["score"].mean()
    counts = per_turn.groupby(["question_id", "model"]).size()
    incomplete = counts[counts != 2]
    if len(incomplete) or len(counts) != 2 * len(questions):
        raise DataError(
            f"{root / MT_BENCH_JUDGEMENTS}: some questions lack a judgement for both turns of "
            f"both models; `routerlab data fetch` restores the file"
        )
    score = per_turn.groupby(["question_id", "model"]).mean().unstack("model")
    turn1 = judgements[judgements["turn"] == 1].drop_duplicates(["question_id", "model"])
    answers = {
        (int(q), m): _answer_text(str(p), 1)
        for q, m, p in zip(turn1["question_id"], turn1["model"], turn1["user_prompt"], strict=True)
    }
    qids = [int(q) for q in questions["question_id"]]
    return Benchmark(
        name="mt_bench",
        prompt_ids=[str(q) for q in qids],
        prompts=questions["turn1"].tolist(),
        weak_score=score.loc[qids, WEAK_MODEL].to_numpy(dtype=float),
        strong_score=score.loc[qids, STRONG_MODEL].to_numpy(dtype=float),
        weak_model=WEAK_MODEL,
        strong_model=STRONG_MODEL,
        weak_response=[answers.get((q, WEAK_MODEL), "") for q in qids],
        strong_response=[answers.get((q, STRONG_MODEL), "") for q in qids],
        groups=[str(q) for q in qids],
        source_sha256=sha,
        dropped_contaminated=dropped,
        meta={
            "metric": "mean GPT-4 judge score (1-10) over both turns; routed on turn 1",
            "source": "lm-sys/RouteLLM routellm/evals/mt_bench",
            "task": "mt_bench",
        },
    )


def gsm8k_gold_answers(data_dir: Path) -> dict[str, str]:
    """GSM8K test question → its final answer (the number after ``####``)."""
    path = Path(data_dir) / "routellm" / "gsm8k" / "test.jsonl"
    if not path.is_file():
        raise DataError(
            f"{path} is missing; run `routerlab data fetch` (gold answers for the judge)"
        )
    gold: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            answer = str(row["answer"])
            final = answer.split("####")[-1].strip() if "####" in answer else answer.strip()
            gold[str(row["question"]).strip()] = final
    return gold
