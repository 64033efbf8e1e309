"""Custom benchmarks: one file (CSV, JSONL or Parquet) with a row per prompt.

Schema (column names are fixed; other columns are ignored):

=================  ========  ==============================================================
column             required  content
=================  ========  ==============================================================
``prompt``         yes       the text the router sees; non-empty and unique
``weak``           yes       the weak model's outcome: bool (correct or not) or a number
``strong``         yes       the strong model's outcome, same kind as ``weak``
``id``             no        a unique id per prompt (default: the 0-based row number)
``weak_response``  no        the weak model's answer text (empty cells read as "")
``strong_response`` no       the strong model's answer text
``weak_cost``      no        USD the weak model's call cost on this prompt (number, no gaps)
``strong_cost``    no        USD the strong model's call cost
``group``          no        a fold key (rows sharing it stay on one side of a split)
``weak_model``     no        the weak model's name, the same on every row
``strong_model``   no        the strong model's name, the same on every row
=================  ========  ==============================================================

Model names can also be given as keyword arguments (``routerlab evaluate --weak-model
--strong-model``), which win over the columns; without either they are "weak" and
"strong". The benchmark's score of a system is the mean outcome, exactly as for the
built-in benchmarks. The benchmark's name is the file's stem.

Example (CSV)::

    id,prompt,weak,strong
    q1,What is 2+2?,true,true
    q2,Prove Fermat's last theorem.,false,true
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.data import sha256_file
from harness.errors import DataError
from harness.records import Benchmark

SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")
_KNOWN_COLUMNS = {"prompt", "id", "group", "weak_model", "strong_model", "weak_response",
                  "strong_response", "weak_cost", "strong_cost"}
REQUIRED = ("prompt", "weak", "strong")
_SCHEMA_HINT = "see harness/benchmarks/custom.py for the schema"


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise DataError(f"{path}: benchmark file not found; check the path")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; it needs a header and one row per prompt")
    try:
        if suffix == ".csv":
            # Keep text as text: "NA" or "null" are legitimate prompts, not missing values.
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
            return pd.read_json(path, dtype=False)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types; the user needs one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot be read as {suffix[1:]} ({first})") from exc


def _outcome(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = df[column]
    bad_rows = values.isna()
    if bad_rows.any():
        row = int(np.flatnonzero(bad_rows.to_numpy())[0])
        raise DataError(
            f"{path}: column {column!r} is empty at row {row} (0-based data row); every prompt "
            "needs both models' outcomes (true/false or a number), or drop such rows "
            "(--drop-missing)"
        )
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool).to_numpy(dtype=float)
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        lowered = values.astype(str).str.strip().str.lower()
        if lowered.isin(["true", "false"]).all():
            return (lowered == "true").to_numpy(dtype=float)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        row = int(np.flatnonzero(numeric.isna().to_numpy())[0])
        raise DataError(
            f"{path}: column {column!r} row {row} is {values.iloc[row]!r}, not a bool or a "
            "number; use true/false or a numeric score"
        )
    out = numeric.to_numpy(dtype=float)
    if not np.isfinite(out).all():
        row = int(np.flatnonzero(~np.isfinite(out))[0])
        raise DataError(f"{path}: column {column!r} row {row} is not finite; use a finite number")
    return out


def _cost(df: pd.DataFrame, column: str, path: Path) -> np.ndarray | None:
    if column not in df.columns:
        return None
    numeric = pd.to_numeric(df[column], errors="coerce")
    bad = numeric.isna() | (numeric < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{path}: column {column!r} row {row} is {df[column].iloc[row]!r}; costs must be "
            "non-negative numbers on every row (or drop the column)"
        )
    return numeric.to_numpy(dtype=float)


def _model_name(df: pd.DataFrame, column: str, given: str | None, path: Path) -> str:
    if given:
        return given
    if column not in df.columns:
        return column.removesuffix("_model")
    names = df[column].dropna().astype(str).unique()
    if len(names) != 1:
        raise DataError(
            f"{path}: column {column!r} must hold one model name on every row, found "
            f"{len(names)} ({', '.join(map(str, names[:3]))}); or pass --{column.replace('_', '-')}"
        )
    return str(names[0])


def load_custom_benchmark(
    path: str | Path,
    *,
    weak_model: str | None = None,
    strong_model: str | None = None,
    name: str | None = None,
    weak_column: str | None = None,
    strong_column: str | None = None,
    drop_missing: bool = False,
) -> Benchmark:
    """Load a one-file benchmark (schema in the module docstring).

    A file with many models' outcome columns: ``weak_column`` / ``strong_column`` name the
    two to compare (the model names default to the column names); ``drop_missing`` drops the
    rows where either is empty, counted in ``meta["dropped_missing_outcomes"]``, instead of
    failing on the first.

    Raises:
        DataError: the file is missing, empty, unreadable, lacks a required column, has an
            empty or non-numeric outcome, an empty or duplicate prompt, or a duplicate id.
    """
    path = Path(path)
    df = _read_table(path)
    if len(df) == 0:
        raise DataError(f"{path}: no rows; the file needs one row per prompt")
    weak_col, strong_col = weak_column or "weak", strong_column or "strong"
    for given, default in ((weak_col, "weak"), (strong_col, "strong")):
        if given != default and given not in df.columns:
            outcome_like = [c for c in df.columns if c not in _KNOWN_COLUMNS]
            raise DataError(
                f"{path}: no outcome column {given!r}; columns that could be outcomes: "
                f"{', '.join(map(str, outcome_like))}"
            )
    missing = [c for c in ("prompt", weak_col, strong_col) if c not in df.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} (found: "
            f"{', '.join(map(str, df.columns))}); {_SCHEMA_HINT}"
        )
    n_missing = 0
    if drop_missing:
        absent = df[weak_col].isna() | df[strong_col].isna()
        n_missing = int(absent.sum())
        df = df[~absent].reset_index(drop=True)
        if len(df) == 0:
            raise DataError(f"{path}: every row lacks the {weak_col!r} or {strong_col!r} outcome")
    prompts = df["prompt"]
    empty = prompts.isna() | (prompts.astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataError(f"{path}: column 'prompt' is empty at row {row}; every row needs a prompt")
    prompt_list = prompts.astype(str).tolist()
    dup = prompts.astype(str).duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:2].tolist()
        raise DataError(
            f"{path}: column 'prompt' repeats the same text at rows {rows}; each prompt must "
            "appear once (merge or drop the duplicates)"
        )
    if "id" in df.columns:
        ids = df["id"].astype(str)
        if df["id"].isna().any() or ids.duplicated().any():
            row = int(np.flatnonzero((df["id"].isna() | ids.duplicated()).to_numpy())[0])
            raise DataError(
                f"{path}: column 'id' is empty or repeated at row {row}; ids must be unique"
            )
        prompt_ids = ids.tolist()
    else:
        prompt_ids = [str(i) for i in range(len(df))]

    def responses(column: str) -> list[str] | None:
        if column not in df.columns:
            return None
        return df[column].fillna("").astype(str).tolist()

    groups = df["group"].astype(str).tolist() if "group" in df.columns else None
    return Benchmark(
        name=name or path.stem,
        prompt_ids=prompt_ids,
        prompts=prompt_list,
        weak_score=_outcome(df, weak_col, path),
        strong_score=_outcome(df, strong_col, path),
        weak_model=_model_name(df, "weak_model", weak_model or weak_column, path),
        strong_model=_model_name(df, "strong_model", strong_model or strong_column, path),
        weak_response=responses("weak_response"),
        strong_response=responses("strong_response"),
        weak_cost=_cost(df, "weak_cost", path),
        strong_cost=_cost(df, "strong_cost", path),
        groups=groups,
        source_sha256={path.name: sha256_file(path)},
        meta={"source": str(path.resolve()), "dropped_missing_outcomes": n_missing},
    )
