"""Training prompts for label sources: NQ-open, TriviaQA, MAWPS, GSM8K, MMLU and PopQA.

Every loader returns a DataFrame with the columns :data:`COLUMNS`:

* ``dataset``: the loader's name (``nq_open``, ``triviaqa``, ...);
* ``row_id``: a stable string id of the row inside its file (its line or record index, or
  the record's own id where the file has one), so label files can name prompts without
  storing their text;
* ``prompt``: the question as the model sees it;
* ``answers``: list of gold answer strings (aliases; numbers written without a trailing
  ``.0``).

:func:`paper_mix` samples the paper's training mixture (3,610 NQ-open : 3,610 TriviaQA :
3,610 PopQA : 1,418 MAWPS) and is prefix-stable: ``paper_mix(500)`` is contained in
``paper_mix(1000)`` with the same seed, so a label run can grow without redoing work.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import DataError

COLUMNS: tuple[str, ...] = ("dataset", "row_id", "prompt", "answers")

# The paper's training set sizes per dataset (PopQA is not in the offline data mirror).
PAPER_PROPORTIONS: dict[str, int] = {
    "nq_open": 3610,
    "triviaqa": 3610,
    "popqa": 3610,
    "mawps": 1418,
}

# Relative path of each dataset's file inside the data dir.
DATASET_FILES: dict[str, str] = {
    "nq_open": "nq_open/NQ-open.dev.jsonl",
    "triviaqa": "triviaqa/trivia_qa.rc.train.first2000.jsonl",
    "mawps": "mawps/MAWPS.json",
    "gsm8k_train": "routellm/gsm8k/train.jsonl",
    "gsm8k_test": "routellm/gsm8k/test.jsonl",
}


def _data_file(data_dir: Path, relpath: str) -> Path:
    """The path of a data file, checked (presence and sha256) by the data manifest; a
    DataError naming it and the fix when it is absent or corrupt."""
    from harness.data import require
    from harness.errors import ConfigError

    try:
        return Path(require(relpath, data_dir=data_dir))
    except ConfigError:
        pass  # not in the manifest: fall back to a presence check
    path = Path(data_dir) / relpath
    if not path.is_file():
        raise DataError(
            f"training data file {path} is missing; run `routerlab data fetch` "
            f"(or set ROUTERLAB_DATA_DIR to the data directory)"
        )
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {lineno} is not valid JSON ({exc.msg})") from None
    return rows


def _field(path: Path, row: dict[str, Any], key: str, where: int) -> object:
    if key not in row:
        raise DataError(f"{path}: record {where} lacks the field {key!r}")
    return row[key]


def format_number(value: float | int | str) -> str:
    """A gold number as text: 504.0 -> '504', 0.25 -> '0.25'."""
    x = float(value)
    if math.isfinite(x) and x == int(x):
        return str(int(x))
    return f"{x:.10g}"


def _frame(
    dataset: str, ids: list[str], prompts: list[str], answers: list[list[str]]
) -> pd.DataFrame:
    return pd.DataFrame(
        {"dataset": dataset, "row_id": ids, "prompt": prompts, "answers": answers},
        columns=list(COLUMNS),
    )


def load_nq_open(data_dir: Path) -> pd.DataFrame:
    path = _data_file(data_dir, DATASET_FILES["nq_open"])
    rows = _read_jsonl(path)
    prompts = [str(_field(path, r, "question", i)) for i, r in enumerate(rows)]
    answers = [[str(a) for a in _field(path, r, "answer", i)] for i, r in enumerate(rows)]  # type: ignore[attr-defined]
    return _frame("nq_open", [str(i) for i in range(len(rows))], prompts, answers)


def load_triviaqa(data_dir: Path) -> pd.DataFrame:
    path = _data_file(data_dir, DATASET_FILES["triviaqa"])
    rows = _read_jsonl(path)
    prompts, answers, ids = [], [], []
    for i, r in enumerate(rows):
        turns = _field(path, r, "turns", i)
        if not isinstance(turns, list) or not turns:
            raise DataError(f"{path}: record {i} has no question in 'turns'")
        prompts.append(str(turns[0]))
        answers.append([str(a) for a in _field(path, r, "answer", i)])  # type: ignore[attr-defined]
        ids.append(str(r.get("question_id", i)))
    return _frame("triviaqa", ids, prompts, answers)


def load_mawps(data_dir: Path) -> pd.DataFrame:
    path = _data_file(data_dir, DATASET_FILES["mawps"])
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not valid JSON ({exc.msg}); run `routerlab data fetch`"
        ) from None
    prompts, answers, ids = [], [], []
    for i, r in enumerate(rows):
        prompts.append(str(_field(path, r, "original_text", i)).strip())
        answers.append([format_number(_field(path, r, "ans", i))])  # type: ignore[arg-type]
        ids.append(str(r.get("id", i)))
    return _frame("mawps", ids, prompts, answers)


def _gsm8k_final(path: Path, answer: str, where: int) -> str:
    if "####" not in answer:
        raise DataError(f"{path}: record {where} has no '#### <number>' in its answer")
    final = answer.rsplit("####", 1)[1].strip().replace(",", "")
    try:
        return format_number(final)
    except ValueError:
        return final


def _load_gsm8k(data_dir: Path, split: str) -> pd.DataFrame:
    path = _data_file(data_dir, DATASET_FILES[f"gsm8k_{split}"])
    rows = _read_jsonl(path)
    prompts = [str(_field(path, r, "question", i)) for i, r in enumerate(rows)]
    answers = [
        [_gsm8k_final(path, str(_field(path, r, "answer", i)), i)] for i, r in enumerate(rows)
    ]
    return _frame(f"gsm8k_{split}", [str(i) for i in range(len(rows))], prompts, answers)


def load_gsm8k_train(data_dir: Path) -> pd.DataFrame:
    return _load_gsm8k(data_dir, "train")


def load_gsm8k_test(data_dir: Path) -> pd.DataFrame:
    return _load_gsm8k(data_dir, "test")


def load_mmlu_train(data_dir: Path) -> pd.DataFrame:
    """MMLU test questions that the ``mmlu_qwen`` benchmark does not score: in-domain
    training prompts for routing that pair on MMLU (row_id: the RouteLLM prompt id; answers:
    the gold letter, from :mod:`harness.benchmarks.mmlu_local`). RouteLLM's ``mmlu``
    benchmark holds every MMLU question, so labels from these are decontaminated away there."""
    from harness.benchmarks import mmlu_local
    from harness.benchmarks.local_pair import DEFAULT_MMLU_FILE
    from harness.benchmarks.routellm import load_mmlu

    base = load_mmlu(data_dir)
    scored = set(pd.read_json(DEFAULT_MMLU_FILE, lines=True, dtype={"id": str})["id"])
    gold = mmlu_local.mmlu_gold_letters()
    subjects = base.groups or []
    ids, prompts, answers = [], [], []
    for pid, prompt, subject in zip(base.prompt_ids, base.prompts, subjects, strict=True):
        if pid in scored:
            continue
        ids.append(pid)
        prompts.append(prompt)
        answers.append([gold[(subject, mmlu_local.normalize_prompt(prompt))]])
    return _frame("mmlu_train", ids, prompts, answers)


def load_popqa(path: Path) -> pd.DataFrame:
    """PopQA from a local ``popQA.tsv`` (AlexTMallen/adaptive-retrieval, data/popQA.tsv).

    Columns used: ``question`` and ``possible_answers`` (a JSON list); ``id`` when present.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"PopQA file {path} is missing; download data/popQA.tsv from "
            "github.com/AlexTMallen/adaptive-retrieval and pass its path"
        )
    table = pd.read_csv(path, sep="\t")
    for col in ("question", "possible_answers"):
        if col not in table.columns:
            raise DataError(f"{path}: column {col!r} is missing (want the popQA.tsv schema)")
    answers = []
    for i, raw in enumerate(table["possible_answers"]):
        try:
            answers.append([str(a) for a in json.loads(raw)])
        except (TypeError, json.JSONDecodeError):
            raise DataError(f"{path}: row {i} possible_answers is not a JSON list") from None
    ids = (
        [str(x) for x in table["id"]]
        if "id" in table.columns
        else [str(i) for i in range(len(table))]
    )
    return _frame("popqa", ids, [str(q) for q in table["question"]], answers)


LOADERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "nq_open": load_nq_open,
    "triviaqa": load_triviaqa,
    "mawps": load_mawps,
    "gsm8k_train": load_gsm8k_train,
    "gsm8k_test": load_gsm8k_test,
    "mmlu_train": load_mmlu_train,
}


def load_dataset(
    name: str, data_dir: Path | None = None, *, popqa_path: Path | None = None
) -> pd.DataFrame:
    """One training dataset by name (``popqa`` needs ``popqa_path``)."""
    from harness.paths import data_dir as default_data_dir

    if name == "popqa":
        if popqa_path is None:
            raise DataError("dataset 'popqa' needs a path to popQA.tsv (popqa_path)")
        return load_popqa(popqa_path)
    if name not in LOADERS:
        raise DataError(
            f"unknown training dataset {name!r}; known: {', '.join([*LOADERS, 'popqa'])}"
        )
    return LOADERS[name](Path(data_dir) if data_dir is not None else default_data_dir())


def mix_counts(
    n: int, datasets: Sequence[str], available: dict[str, int] | None = None
) -> dict[str, int]:
    """How many prompts of each dataset ``n`` prompts in the paper's proportions hold.

    Largest-remainder rounding of ``n`` split by :data:`PAPER_PROPORTIONS` (evenly when no
    dataset has one); a dataset with fewer rows than its share gives all it has and the rest
    is not redistributed.
    """
    unknown = [d for d in datasets if d not in PAPER_PROPORTIONS]
    if unknown and len(unknown) < len(datasets):
        raise DataError(
            f"{unknown} have no paper proportion, so they cannot be mixed with "
            f"{[d for d in datasets if d in PAPER_PROPORTIONS]}; label them in a run of "
            "their own (e.g. --prompts gsm8k_train) or use only "
            f"{list(PAPER_PROPORTIONS)}"
        )
    # In-domain datasets (gsm8k_train, mmlu_train) are not in the paper's mixture: a run of
    # them alone splits n evenly.
    weights = np.array(
        [PAPER_PROPORTIONS[d] if not unknown else 1 for d in datasets], dtype=float
    )
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    out = {d: int(c) for d, c in zip(datasets, counts, strict=True)}
    if available:
        out = {d: min(c, available.get(d, c)) for d, c in out.items()}
    return out


def _rank_key(seed: int, dataset: str, row_id: str) -> int:
    digest = hashlib.sha256(f"{seed}:{dataset}:{row_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def paper_mix(
    n: int,
    seed: int = 0,
    datasets: Sequence[str] = ("nq_open", "triviaqa", "mawps"),
    *,
    data_dir: Path | None = None,
    popqa_path: Path | None = None,
) -> pd.DataFrame:
    """``n`` training prompts drawn from ``datasets`` in the paper's proportions.

    Within each dataset, rows are ordered by a hash of (seed, dataset, row_id), so the
    choice does not depend on the other datasets or on ``n`` beyond the counts: growing
    ``n`` only adds rows. The result is interleaved by the same hash (a run stopped early
    still holds all datasets) and has a fresh RangeIndex.
    """
    frames = {d: load_dataset(d, data_dir, popqa_path=popqa_path) for d in datasets}
    counts = mix_counts(n, list(datasets), {d: len(f) for d, f in frames.items()})
    picked = []
    for d, frame in frames.items():
        keys = np.array([_rank_key(seed, d, rid) for rid in frame["row_id"]], dtype=np.uint64)
        order = np.argsort(keys, kind="stable")[: counts[d]]
        part = frame.iloc[order].copy()
        part["_key"] = keys[order]
        picked.append(part)
    mixed = pd.concat(picked, ignore_index=True)
    # Interleave by each row's rank within its dataset relative to its count, so the first k
    # rows of the mix hold each dataset in about the right share.
    mixed["_pos"] = mixed.groupby("dataset").cumcount() / mixed["dataset"].map(counts).clip(lower=1)
    mixed = mixed.sort_values(["_pos", "dataset"], kind="stable").drop(columns=["_key", "_pos"])
    return mixed.reset_index(drop=True)


def prompt_sha256(prompt: str) -> str:
    """The hash label files store instead of the prompt text."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()
