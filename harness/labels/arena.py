"""Arena preference labels (RouteLLM): human pairwise votes between named models.

Three input schemas are read, from a local file (``.jsonl``, ``.json``, ``.parquet``,
``.csv``) or, when online, from a Hugging Face dataset (``hub_dataset=``, loaded with
``datasets`` only then):

* Chatbot Arena conversations (``lmsys/chatbot_arena_conversations``, and
  ``lmsys/mt_bench_human_judgments``): ``model_a``, ``model_b``, ``winner``
  (``model_a`` / ``model_b`` / ``tie`` / ``tie (bothbad)``), ``conversation_a`` and
  ``conversation_b`` as lists of ``{role, content}``; ``question_id`` is the fold key. Where
  a ``turn`` column exists, only turn-1 votes are kept (the router sees the first turn).
* Kaggle arena-human-preference-55k: ``id``, ``model_a``, ``model_b``, ``prompt``,
  ``response_a``, ``response_b`` (JSON-encoded lists of turns) and the one-hot
  ``winner_model_a`` / ``winner_model_b`` / ``winner_tie``.
* MT-Bench human judgments without text (the offline default,
  ``arena/mt_bench_human/human_judgments.jsonl``): ``question_id``, ``judge``, ``model_a``,
  ``model_b``, ``winner``; the prompt is ``turns[0]`` of ``routellm/mt_bench/question.jsonl``.

Tiers. RouteLLM keeps battles between a strong and a weak tier. ``strong_models`` names the
strong tier, ``weak_models`` the weak one (None = every other model). The default strong tier,
GPT-4 and Claude-v1, mirrors the benchmark pair. There the weak model, Mixtral-8x7B, rates
level with GPT-3.5-turbo on Chatbot Arena, so GPT-3.5 and the open 13B models form the weak
tier, and the 2023 frontier models (GPT-4 and Claude-v1, the top two of the 2023 Arena
leaderboard) form the strong tier. On the MT-Bench votes themselves, a Bradley–Terry fit gives
gpt-4 1175, claude-v1 1090, gpt-3.5-turbo 1087, vicuna-13b 1015, alpaca-13b 866, llama-13b 766
(Elo scale). Claude-v1 and GPT-3.5 are level there, so the choice is a judgement call; it is
a parameter.

Every record has ``group`` = the question id, so that a benchmark sharing these prompts
(MT-Bench) is evaluated with folds by question (see :mod:`harness.pipeline`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import ConfigError, DataError
from harness.labels.base import LabelSource
from harness.records import LabelSet

DEFAULT_VOTES = "arena/mt_bench_human/human_judgments.jsonl"
MT_BENCH_QUESTIONS = "routellm/mt_bench/question.jsonl"
DEFAULT_STRONG = ("gpt-4", "claude-v1")
_WINNERS = {"model_a": "model_a", "model_b": "model_b", "tie": "tie", "tie (bothbad)": "tie"}


def _prompt_group(prompt: str) -> str:
    """A fold key for votes without a question id: the same prompt, the same group."""
    return "p" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"arena votes file {path} does not exist; pass path=<votes file>")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
        if path.suffix == ".json":
            return pd.read_json(path)
        return pd.read_json(path, lines=True)
    except Exception as exc:  # parser errors → one line naming the file
        raise DataError(f"arena votes file {path} cannot be read: {exc}") from None


def _first_user_turn(conversation: Any) -> str:
    if isinstance(conversation, str):
        conversation = json.loads(conversation)
    for message in conversation:
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def _first_assistant_turn(conversation: Any) -> str:
    if isinstance(conversation, str):
        conversation = json.loads(conversation)
    for message in conversation:
        if message.get("role") == "assistant":
            return str(message.get("content", ""))
    return ""


def _first_of_json_list(value: Any) -> str:
    """Kaggle 55k stores turns as a JSON list in a string; take the first turn."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return str(value)
    if isinstance(value, list | tuple):
        return "" if not value or value[0] is None else str(value[0])
    return "" if value is None else str(value)


def _winner_column(table: pd.DataFrame, where: str) -> pd.Series:
    unknown = sorted(set(table["winner"].astype(str)) - set(_WINNERS))
    if unknown:
        raise DataError(
            f"{where}: column 'winner' has values {unknown[:5]}; want one of {sorted(_WINNERS)}"
        )
    return table["winner"].astype(str).map(_WINNERS)


def normalize_votes(
    table: pd.DataFrame, where: str, questions: dict[str, str] | None = None
) -> pd.DataFrame:
    """Any supported schema → columns group, model_a, model_b, winner, prompt, response_a/b."""
    cols = set(table.columns)
    if {"winner_model_a", "winner_model_b", "winner_tie", "prompt"} <= cols:  # Kaggle 55k
        winner = pd.Series("tie", index=table.index)
        winner[table["winner_model_a"].astype(int) == 1] = "model_a"
        winner[table["winner_model_b"].astype(int) == 1] = "model_b"
        prompts = table["prompt"].map(_first_of_json_list)
        out = pd.DataFrame(
            {
                # the same prompt voted twice must land in one fold
                "group": prompts.map(_prompt_group),
                "model_a": table["model_a"], "model_b": table["model_b"], "winner": winner,
                "prompt": prompts,
                "response_a": table["response_a"].map(_first_of_json_list),
                "response_b": table["response_b"].map(_first_of_json_list),
            }
        )
        out["id"] = table["id"].astype(str) if "id" in cols else out.index.astype(str)
        return out
    required = {"model_a", "model_b", "winner"}
    if not required <= cols:
        raise DataError(
            f"{where}: not an arena votes table; it lacks {sorted(required - cols)} (want the "
            "Chatbot Arena, Kaggle 55k or MT-Bench human judgments schema)"
        )
    if "turn" in cols:
        table = table[table["turn"].astype(int) == 1]
    winner = _winner_column(table, where)
    if "conversation_a" in cols:  # Chatbot Arena conversations / HF mt_bench_human_judgments
        prompts = table["conversation_a"].map(_first_user_turn)
        resp_a = table["conversation_a"].map(_first_assistant_turn)
        resp_b = table["conversation_b"].map(_first_assistant_turn)
    elif "question_id" in cols:  # MT-Bench human judgments without text
        if questions is None:
            raise DataError(f"{where}: votes have no prompt text and no question file was given")
        qids = table["question_id"].astype(str)
        missing = sorted(set(qids) - set(questions))
        if missing:
            raise DataError(
                f"{where}: question ids {missing[:5]} are not in the MT-Bench question file"
            )
        prompts = qids.map(questions)
        resp_a = resp_b = pd.Series("", index=table.index)
    else:
        raise DataError(f"{where}: votes have neither conversation_a nor question_id")
    group = (
        table["question_id"].astype(str)
        if "question_id" in cols
        else prompts.map(_prompt_group)
    )
    out = pd.DataFrame(
        {
            "group": group, "model_a": table["model_a"].astype(str),
            "model_b": table["model_b"].astype(str), "winner": winner, "prompt": prompts,
            "response_a": resp_a, "response_b": resp_b,
        }
    )
    if "judge" in cols:
        out["judge"] = table["judge"].astype(str)
    out["id"] = [f"{g}:{i}" for i, g in enumerate(out["group"])]
    return out


class ArenaLabels(LabelSource):
    """Pairwise human votes → preference records across a strong and a weak tier.

    Args:
        path: local votes file; None = the offline MT-Bench human judgments in the data dir
            (unless ``hub_dataset`` is given).
        hub_dataset: a Hugging Face dataset id (e.g. "lmsys/chatbot_arena_conversations"),
            loaded with ``datasets`` when online.
        split: the dataset split.
        questions: MT-Bench question file for votes without text; None = the data dir's.
        strong_models: the strong tier.
        weak_models: the weak tier; None = every model not in the strong tier.
    """

    def __init__(
        self,
        path: str | None = None,
        hub_dataset: str | None = None,
        split: str = "train",
        questions: str | None = None,
        strong_models: tuple[str, ...] = DEFAULT_STRONG,
        weak_models: tuple[str, ...] | None = None,
    ) -> None:
        self.path = path
        self.hub_dataset = hub_dataset
        self.split = split
        self.questions = questions
        self.strong_models = strong_models
        self.weak_models = weak_models

    def _load_hub(self) -> pd.DataFrame:
        import os

        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise ConfigError(
                f"hub_dataset={self.hub_dataset!r} needs the Hugging Face Hub, but "
                "HF_HUB_OFFLINE=1; download it elsewhere and pass path=<local file>"
            )
        import datasets

        try:
            ds = datasets.load_dataset(self.hub_dataset, split=self.split)
        except Exception as exc:  # network / auth / missing dataset → one line
            raise ConfigError(
                f"cannot load hub_dataset={self.hub_dataset!r} split {self.split!r}: {exc}"
            ) from None
        frame: pd.DataFrame = ds.to_pandas()
        return frame

    def _questions(self, data_dir: Path) -> dict[str, str]:
        path = Path(self.questions) if self.questions else data_dir / MT_BENCH_QUESTIONS
        if not path.is_file():
            raise DataError(
                f"MT-Bench question file {path} is missing; run `routerlab data fetch` or "
                "pass questions=<question.jsonl>"
            )
        table = pd.read_json(path, lines=True)
        return {str(q): str(t[0]) for q, t in zip(table["question_id"], table["turns"],
                                                  strict=True)}

    def load(self, data_dir: Path) -> LabelSet:
        data_dir = Path(data_dir)
        if self.hub_dataset and not self.path:
            where = f"hub dataset {self.hub_dataset}"
            raw = self._load_hub()
        else:
            file = Path(self.path) if self.path else data_dir / DEFAULT_VOTES
            where = str(file)
            raw = _read_table(file)
        needs_questions = (
            "conversation_a" not in raw.columns and "prompt" not in raw.columns
            and "question_id" in raw.columns
        )
        votes = normalize_votes(raw, where, self._questions(data_dir) if needs_questions else None)
        strong = frozenset(self.strong_models)
        models = set(votes["model_a"]) | set(votes["model_b"])
        weak = frozenset(self.weak_models) if self.weak_models is not None else frozenset(
            models - strong
        )
        overlap = strong & weak
        if overlap:
            raise ConfigError(f"models {sorted(overlap)} are in both the strong and weak tier")
        if not strong & models:
            raise ConfigError(
                f"no strong-tier model {sorted(strong)} has votes in {where}; models there: "
                f"{sorted(models)}"
            )
        records = pd.DataFrame(
            {
                "id": votes["id"],
                "model_a": votes["model_a"],
                "model_b": votes["model_b"],
                "prompt": votes["prompt"],
                "response_a": votes["response_a"],
                "response_b": votes["response_b"],
                "winner_model_a": (votes["winner"] == "model_a").astype(int),
                "winner_model_b": (votes["winner"] == "model_b").astype(int),
                "winner_tie": (votes["winner"] == "tie").astype(int),
                "group": votes["group"],
            }
        ).reset_index(drop=True)
        if "judge" in votes.columns:
            records["judge"] = votes["judge"].to_numpy()
        label_set = LabelSet(
            records=records, strong_models=strong, weak_models=weak, source="arena",
            meta={"votes": where, "strong_models": sorted(strong), "weak_models": sorted(weak),
                  "n_votes": len(records)},
        )
        label_set.meta["n_cross_tier"] = len(label_set.targets()[0])
        return label_set
