"""Accuracy labels (TO-Router): grade a weak and a strong model's answers against gold.

Input: a responses file (parquet, CSV or JSONL) with one row per (prompt, model) and the
columns :data:`RESPONSE_COLUMNS`: ``dataset`` and ``row_id`` name a training prompt of
:mod:`harness.training_data` (where the gold answers come from), ``prompt_sha256`` pins
the prompt text (a mismatch means the data changed under the file), ``model`` and
``response``. The default file is the greedy answers written by the semantic-entropy label
run (:data:`harness.labels.se.store.DEFAULT_RESPONSES_FILE`), so accuracy and SE labels
share prompts and models.

Each prompt answered by both models becomes one record: model_a = weak, model_b = strong;
the correct model wins; both right or both wrong is a tie (the paper's rule). Graders are in
:mod:`harness.labels.grading`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from harness.errors import ConfigError, DataError
from harness.labels.base import LabelSource
from harness.labels.grading import GRADED_DATASETS, grade
from harness.labels.se.store import (
    COMMITTED_SETS,
    DEFAULT_RESPONSES_FILE,
    RESPONSE_COLUMNS,
    responses_file,
)
from harness.records import LabelSet
from harness.search_space import Choice, ParamSpec


def read_responses(path: Path) -> pd.DataFrame:
    """A responses table with :data:`RESPONSE_COLUMNS` (as strings), or a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"responses file {path} does not exist; pass responses=<file with columns "
            f"{', '.join(RESPONSE_COLUMNS)}> or run `routerlab labels se` to write the default"
        )
    try:
        if path.suffix == ".parquet":
            table = pd.read_parquet(path)
        elif path.suffix == ".csv":
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix in (".jsonl", ".json"):
            table = pd.read_json(path, lines=path.suffix == ".jsonl", dtype=False)
        else:
            raise DataError(f"responses file {path}: unknown format {path.suffix!r}; use "
                            ".parquet, .csv or .jsonl")
    except DataError:
        raise
    except Exception as exc:  # pyarrow / parser errors → one line naming the file
        raise DataError(f"responses file {path} cannot be read: {exc}") from None
    missing = [c for c in RESPONSE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"responses file {path} lacks columns {missing}; want {', '.join(RESPONSE_COLUMNS)}"
        )
    table = table[list(RESPONSE_COLUMNS)].copy()
    for col in RESPONSE_COLUMNS:
        table[col] = table[col].fillna("").astype(str)
    return table


def _file_models(path: Path) -> dict[str, str]:
    """weak_model/strong_model recorded with the file (parquet metadata or a .json sidecar)."""
    found: dict[str, str] = {}
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
            found.update({k: str(meta[k]) for k in ("weak_model", "strong_model") if k in meta})
        except (json.JSONDecodeError, TypeError):
            pass
    if path.suffix == ".parquet" and len(found) < 2:
        import pyarrow.parquet as pq

        raw = pq.read_schema(path).metadata or {}
        for key in ("weak_model", "strong_model"):
            if key.encode() in raw:
                found.setdefault(key, raw[key.encode()].decode())
        if b"routerlab" in raw:
            try:
                meta = json.loads(raw[b"routerlab"])
            except (json.JSONDecodeError, TypeError):
                meta = {}
            # the SE label run records the pair as "weak"/"strong" (a name or an endpoint dict)
            for key, alias in (("weak_model", "weak"), ("strong_model", "strong")):
                value = meta.get(key, meta.get(alias))
                if isinstance(value, dict):
                    value = value.get("name") or value.get("model")
                if isinstance(value, str) and value:
                    found.setdefault(key, value)
    return found


class AccuracyLabels(LabelSource):
    """Correctness of a weak and a strong model's answers → preference records.

    Args:
        responses: responses file, or the name of a committed SE label set (``default``,
            ``mmlu_train``: its greedy answers, so accuracy and SE labels share prompts and
            models); None = ``default``.
        weak_model / strong_model: the ``model`` values of the two models; None = the
            names recorded with the file (``<file>.json``, or the parquet metadata the SE
            label run writes: ``routerlab`` → ``weak``/``strong``).
        datasets: keep only these training datasets (None = all in the file).
        qa_mode: "contains" or "exact" alias matching for NQ-open/TriviaQA/PopQA.
        popqa_path: local popQA.tsv, needed only when the file holds PopQA answers.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {"qa_mode": Choice(("contains", "exact"))}

    def __init__(
        self,
        responses: str | None = None,
        weak_model: str | None = None,
        strong_model: str | None = None,
        datasets: tuple[str, ...] | None = None,
        qa_mode: str = "contains",
        popqa_path: str | None = None,
    ) -> None:
        self.responses = responses
        self.weak_model = weak_model
        self.strong_model = strong_model
        self.datasets = datasets
        self.qa_mode = qa_mode
        self.popqa_path = popqa_path

    def _models(self, path: Path, table: pd.DataFrame) -> tuple[str, str]:
        recorded = _file_models(path)
        weak = self.weak_model or recorded.get("weak_model")
        strong = self.strong_model or recorded.get("strong_model")
        present = sorted(table["model"].unique())
        if weak is None or strong is None:
            raise ConfigError(
                f"responses file {path} does not say which model is weak and which strong; "
                f"pass weak_model= and strong_model= (models in the file: {present})"
            )
        for role, name in (("weak_model", weak), ("strong_model", strong)):
            if name not in present:
                raise ConfigError(
                    f"{role}={name!r} has no responses in {path}; models there: {present}"
                )
        return weak, strong

    def _gold(self, data_dir: Path, datasets: list[str]) -> pd.DataFrame:
        from harness.training_data import load_dataset

        frames = []
        for name in datasets:
            if name not in GRADED_DATASETS:
                raise DataError(
                    f"responses name dataset {name!r}, which has no grader; known: "
                    f"{sorted(GRADED_DATASETS)}"
                )
            popqa = Path(self.popqa_path) if self.popqa_path else None
            frames.append(load_dataset(name, data_dir, popqa_path=popqa))
        gold = pd.concat(frames, ignore_index=True)
        gold["row_id"] = gold["row_id"].astype(str)
        return gold

    def load(self, data_dir: Path) -> LabelSet:
        from harness.training_data import prompt_sha256

        if self.responses is None:
            path = DEFAULT_RESPONSES_FILE
        elif self.responses in COMMITTED_SETS:
            path = responses_file(COMMITTED_SETS[self.responses])
        else:
            path = Path(self.responses)
        table = read_responses(path)
        if self.datasets is not None:
            table = table[table["dataset"].isin(self.datasets)]
        weak, strong = self._models(path, table)
        table = table[table["model"].isin([weak, strong])]
        dup = table.duplicated(["dataset", "row_id", "model"])
        if dup.any():
            first = table[dup].iloc[0]
            raise DataError(
                f"responses file {path} has {int(dup.sum())} duplicate answers, e.g. dataset "
                f"{first['dataset']!r} row_id {first['row_id']!r} model {first['model']!r}; "
                "keep one answer per (dataset, row_id, model)"
            )
        wide = table.pivot(index=["dataset", "row_id"], columns="model", values="response")
        wide = wide.dropna(subset=[weak, strong]).reset_index()
        wide.columns.name = None
        # keep the file's order of prompts (pivot sorts them)
        first_seen = table.drop_duplicates(["dataset", "row_id"])
        wide = first_seen[["dataset", "row_id"]].merge(wide, on=["dataset", "row_id"])
        shas = first_seen.set_index(["dataset", "row_id"])
        gold = self._gold(Path(data_dir), sorted(wide["dataset"].unique()))
        merged = wide.merge(gold, on=["dataset", "row_id"], how="left", validate="one_to_one")
        unknown = merged["prompt"].isna()
        if unknown.any():
            first = merged[unknown].iloc[0]
            raise DataError(
                f"responses file {path}: {int(unknown.sum())} rows name prompts that the "
                f"training data lacks, e.g. dataset {first['dataset']!r} row_id "
                f"{first['row_id']!r}; was the file written from another data version?"
            )
        keys = pd.MultiIndex.from_arrays([merged["dataset"], merged["row_id"]])
        expected = shas["prompt_sha256"].reindex(keys).to_numpy()
        actual = merged["prompt"].map(prompt_sha256).to_numpy()
        stale = expected != actual
        if stale.any():
            i = int(stale.argmax())
            raise DataError(
                f"responses file {path}: prompt_sha256 of dataset {merged['dataset'][i]!r} "
                f"row_id {merged['row_id'][i]!r} does not match the training data "
                f"({int(stale.sum())} rows); regenerate the responses for this data version"
            )
        columns = [merged["dataset"], merged["answers"], merged["prompt"]]
        correct_weak = [
            grade(d, r, a, self.qa_mode, question=q)
            for d, r, a, q in zip(columns[0], merged[weak], *columns[1:], strict=True)
        ]
        correct_strong = [
            grade(d, r, a, self.qa_mode, question=q)
            for d, r, a, q in zip(columns[0], merged[strong], *columns[1:], strict=True)
        ]
        records = pd.DataFrame(
            {
                "id": merged["dataset"] + ":" + merged["row_id"],
                "model_a": weak,
                "model_b": strong,
                "prompt": merged["prompt"],
                "response_a": merged[weak],
                "response_b": merged[strong],
                "correct_a": correct_weak,
                "correct_b": correct_strong,
                "dataset": merged["dataset"],
                "row_id": merged["row_id"],
            }
        )
        a, b = records["correct_a"], records["correct_b"]
        records.insert(6, "winner_model_a", (a & ~b).astype(int))
        records.insert(7, "winner_model_b", (b & ~a).astype(int))
        records.insert(8, "winner_tie", (a == b).astype(int))
        meta: dict[str, Any] = {
            "responses_file": str(path),
            "weak_model": weak,
            "strong_model": strong,
            "n_records": len(records),
            "weak_accuracy": float(a.mean()) if len(records) else float("nan"),
            "strong_accuracy": float(b.mean()) if len(records) else float("nan"),
            "qa_mode": self.qa_mode,
        }
        return LabelSet(
            records=records,
            strong_models=frozenset({strong}),
            weak_models=frozenset({weak}),
            source="accuracy",
            meta=meta,
        )
