"""SE label files: Parquet with SE values per prompt (no prompt text) and provenance.

A label file has one row per training prompt with :data:`LABEL_FILE_COLUMNS`; prompts are
named by ``dataset``/``row_id`` and pinned by ``prompt_sha256`` (the data cannot be
committed). Run metadata (models, K, NLI backend, wall time, tokens; never keys or prompt
text) is kept in the Parquet schema metadata under ``routerlab``. Writes go to a temporary
file that is renamed, so a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import DataError

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_LABEL_FILE = DATA_DIR / "default_labels.parquet"
DEFAULT_RESPONSES_FILE = DATA_DIR / "default_responses.parquet"
# The committed label sets by name (``path=NAME`` of the se source, ``responses=NAME`` of the
# accuracy source): the paper's transfer set (NQ-open, TriviaQA, MAWPS), the in-domain MMLU
# set (exact letter distributions on MMLU questions that mmlu_qwen does not score) and the
# in-domain GSM8K set (step-by-step answers to GSM8K training questions; a long run that
# grows across sessions).
COMMITTED_SETS: dict[str, Path] = {
    "default": DEFAULT_LABEL_FILE,
    "mmlu_train": DATA_DIR / "mmlu_train_labels.parquet",
    "gsm8k_train": DATA_DIR / "gsm8k_train_labels.parquet",
}


def label_file(name_or_path: str | Path | None) -> Path:
    """A committed set's label file by name (None: ``default``), else the path itself."""
    if name_or_path is None:
        return DEFAULT_LABEL_FILE
    return COMMITTED_SETS.get(str(name_or_path), Path(name_or_path))


def responses_file(label_path: Path) -> Path:
    """The greedy responses file written beside a label file."""
    if label_path == DEFAULT_LABEL_FILE:
        return DEFAULT_RESPONSES_FILE
    return label_path.with_name(f"{label_path.stem}_responses.parquet")


LABEL_FILE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "row_id",
    "prompt_sha256",
    "model_a",
    "model_b",
    "se_a",
    "se_b",
    "se_discrete_a",
    "se_discrete_b",
    "n_clusters_a",
    "n_clusters_b",
    "n_samples",
    "response_a",
    "response_b",
)
# Per-sample columns (lists, one entry per sample): with them every estimator of
# ``entropy.ESTIMATORS`` is computed when the file is read. Files written before they existed
# hold only the eq. 2 and discrete values above.
# The sampled answers themselves are kept too, so a set can be re-clustered with another NLI
# backend or threshold without generating again.
SAMPLE_COLUMNS: tuple[str, ...] = (
    "cluster_ids_a",
    "cluster_ids_b",
    "sample_ll_a",
    "sample_ll_b",
    "samples_a",
    "samples_b",
)
# The greedy responses file written beside the labels (read by the accuracy label source).
RESPONSE_COLUMNS: tuple[str, ...] = ("dataset", "row_id", "prompt_sha256", "model", "response")
_META_KEY = b"routerlab"


def _atomic_parquet(frame: pd.DataFrame, path: Path, meta: dict[str, Any] | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    if meta is not None:
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[_META_KEY] = json.dumps(meta, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(schema_meta)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.part")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_label_files(
    se: pd.DataFrame,
    responses: pd.DataFrame,
    out: Path,
    *,
    meta: dict[str, Any],
    responses_out: Path | None = None,
) -> list[Path]:
    """Write the SE label file and the greedy responses file; returns both paths."""
    out = Path(out)
    missing = [c for c in LABEL_FILE_COLUMNS if c not in se.columns]
    if missing:
        raise ValueError(f"SE table lacks columns {missing}")
    if "prompt" in se.columns or "prompt" in responses.columns:
        raise ValueError("label files must not contain prompt text")
    resp_path = Path(responses_out) if responses_out else responses_file(out)
    columns = [*LABEL_FILE_COLUMNS, *(c for c in SAMPLE_COLUMNS if c in se.columns)]
    _atomic_parquet(se[columns], out, meta)
    _atomic_parquet(
        responses,
        resp_path,
        {
            "label_file": out.name,
            "weak": meta.get("weak"),
            "strong": meta.get("strong"),
            "k": meta.get("k"),
        },
    )
    return [out, resp_path]


def read_label_file(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The SE table and its run metadata; DataError naming the file when unusable."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"SE label file {path} does not exist; run `routerlab labels se --out {path}`"
        )
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"SE label file {path} cannot be read as Parquet: {exc}") from None
    frame = table.to_pandas()
    missing = [c for c in LABEL_FILE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"SE label file {path} lacks columns {missing}; rebuild it with `routerlab labels se`"
        )
    raw = (table.schema.metadata or {}).get(_META_KEY)
    meta = json.loads(raw) if raw else {}
    frame["row_id"] = frame["row_id"].astype(str)
    return frame, meta


def responses_from_label_rows(se: pd.DataFrame) -> pd.DataFrame:
    """The greedy responses file's rows (weak then strong per prompt) from SE label rows."""
    parts = [
        pd.DataFrame(
            {
                "dataset": se["dataset"],
                "row_id": se["row_id"].astype(str),
                "prompt_sha256": se["prompt_sha256"],
                "model": se[f"model_{side}"],
                "response": se[f"response_{side}"],
                "_order": range(i, 2 * len(se), 2),
            }
        )
        for i, side in enumerate(("a", "b"))
    ]
    both = pd.concat(parts).sort_values("_order", kind="stable")
    return both.drop(columns="_order").reset_index(drop=True)[list(RESPONSE_COLUMNS)]
