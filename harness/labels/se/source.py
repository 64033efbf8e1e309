"""``SELabels``: the ``se`` label source (the Confidence-Driven router's labels).

Reads a committed SE label file (default: the embedded set in ``data/``), joins it with the
training prompts of the data directory (prompt text is never committed; ``prompt_sha256``
checks the join) and labels each prompt by eq. 3-4 at ``tau``. SE values are stored, so a
new τ re-labels in milliseconds: the joined table is kept per data directory, and only the
vectorised eq. 3-4 runs again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.labels.base import LabelSource
from harness.labels.se.entropy import DEFAULT_ESTIMATOR, ESTIMATORS, label_table_estimates
from harness.labels.se.labelling import (
    STRONG,
    TIE,
    WEAK,
    delta_se,
    se_winner,
    se_winner_by_share,
)
from harness.labels.se.store import COMMITTED_SETS, label_file, read_label_file
from harness.records import LabelSet
from harness.search_space import Choice, FloatRange, ParamSpec

_JOINED: dict[tuple[str, str, float], tuple[pd.DataFrame, dict[str, Any]]] = {}


def joined_label_table(path: Path, data_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Label file ⋈ training prompts, cached by (file, data dir, file mtime)."""
    key = (str(path.resolve()), str(Path(data_dir).resolve()), path.stat().st_mtime)
    if key in _JOINED:
        return _JOINED[key]
    from harness.training_data import load_dataset, prompt_sha256

    se, meta = read_label_file(path)
    parts = []
    for dataset in sorted(se["dataset"].unique()):
        try:
            prompts = load_dataset(dataset, data_dir)
        except DataError as exc:
            raise DataError(f"SE label file {path} needs dataset {dataset!r}: {exc}") from None
        parts.append(prompts[["dataset", "row_id", "prompt"]])
    prompts_all = pd.concat(parts, ignore_index=True)
    joined = se.merge(prompts_all, on=["dataset", "row_id"], how="left", validate="one_to_one")
    missing = joined["prompt"].isna()
    if missing.any():
        first = joined.loc[missing, ["dataset", "row_id"]].iloc[0].tolist()
        raise DataError(
            f"SE label file {path}: {int(missing.sum())} rows name prompts not in the "
            f"data directory {data_dir} (first: {first}); run `routerlab data fetch`"
        )
    sha = joined["prompt"].map(prompt_sha256)
    bad = sha != joined["prompt_sha256"]
    if bad.any():
        first = joined.loc[bad, ["dataset", "row_id"]].iloc[0].tolist()
        raise DataError(
            f"SE label file {path}: {int(bad.sum())} prompts in {data_dir} differ from "
            f"the ones labelled (first: {first}); the data changed, rebuild the labels"
        )
    _JOINED[key] = (joined, meta)
    return joined, meta


def existing_label_file(name_or_path: str | None) -> Path:
    """A committed set's label file by name, or a path; DataError when it does not exist."""
    path = label_file(name_or_path)
    if not path.is_file():
        raise DataError(
            f"SE label file {path} does not exist; run `routerlab labels se` (committed "
            f"sets by name: {', '.join(COMMITTED_SETS)})"
        )
    return path


def preference_records(
    joined: pd.DataFrame, winner: np.ndarray, extra: dict[str, Any]
) -> pd.DataFrame:
    """Records in the paper's schema from a joined label table and each prompt's winner
    (``STRONG`` / ``WEAK`` / ``TIE``); ``extra`` columns follow ``dataset``."""
    return pd.DataFrame(
        {
            "id": joined["dataset"] + ":" + joined["row_id"],
            "model_a": joined["model_a"],
            "model_b": joined["model_b"],
            "prompt": joined["prompt"],
            "response_a": joined["response_a"],
            "response_b": joined["response_b"],
            "winner_model_a": (winner == WEAK).astype(int),
            "winner_model_b": (winner == STRONG).astype(int),
            "winner_tie": (winner == TIE).astype(int),
            "dataset": joined["dataset"],
            **extra,
        }
    )


def recommended_estimator(table: pd.DataFrame, meta: dict[str, Any]) -> str:
    """The estimator a label file's metadata recommends, else the only one old files hold."""
    if "cluster_ids_a" not in table.columns:
        return "eq2"
    kind = meta.get("se_kind", DEFAULT_ESTIMATOR)
    return str(kind) if kind in ESTIMATORS else DEFAULT_ESTIMATOR


class SELabels(LabelSource):
    """Semantic-entropy preference labels (weak = model_a, strong = model_b).

    Args:
        tau: δ_SE threshold of eq. 4; at or below it a prompt is a tie.
        path: an SE label file, or the name of a committed set (``default``: the paper's
            transfer set over NQ-open, TriviaQA and MAWPS; ``mmlu_train``: in-domain MMLU
            letter distributions). None: ``default``.
        se_kind: the uncertainty estimate (``harness.labels.se.entropy.ESTIMATORS``):
            ``"entropy"`` (−Σ p(C) log p(C)), ``"eq2"`` (the paper's eq. 2 as printed),
            ``"mc"``, ``"discrete"`` or the non-semantic ``"token_nll"``. None (default):
            the estimator the label file recommends (``se_kind`` in its metadata, chosen by
            validation AUROC on the development part of its prompts; ``"eq2"`` for files
            written before per-sample columns existed, which hold nothing else).
        strong_share: None (default): eq. 4 as the paper writes it. A share in (0, 1):
            rank the prompts by SE_weak − SE_strong and label that share of them (the
            largest gaps) strong, the rest weak, with no ties; ``tau`` is then unused.
            Why: eq. 4 compares the two SEs directly, so when the weak model is less
            certain almost everywhere its labels are nearly all "strong" (the 0.5B Qwen on
            MMLU letters: 256 of 278 prompts at τ = 0) and a router learns a constant. The
            share removes the pair's offset and keeps the ordering: the strong model is
            preferred where it is most confident relative to the weak one. Chosen without
            outcomes, from the training labels alone.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "tau": FloatRange(0.0, 2.0, min=0.0),
        "se_kind": Choice(ESTIMATORS),
    }
    # Checked, not tuned: the share replaces eq. 4 rather than refining it.
    param_rules: ClassVar[dict[str, ParamSpec]] = {
        "strong_share": FloatRange(0.1, 0.9, min=0.0, max=1.0),
    }

    def __init__(
        self,
        tau: float = 0.0,
        path: str | None = None,
        se_kind: str | None = None,
        strong_share: float | None = None,
    ) -> None:
        self.tau = tau
        self.path = path
        self.se_kind = se_kind
        self.strong_share = strong_share

    def load(self, data_dir: Path) -> LabelSet:
        if self.se_kind is not None and self.se_kind not in ESTIMATORS:
            raise ConfigError(
                f"se label source: se_kind must be one of {', '.join(ESTIMATORS)}, "
                f"got {self.se_kind!r}"
            )
        if self.tau < 0:
            raise ConfigError(f"se label source: tau must be >= 0, got {self.tau}")
        if self.strong_share is not None and not 0 < self.strong_share < 1:
            raise ConfigError(
                f"se label source: strong_share must be in (0, 1) or None, got "
                f"{self.strong_share}"
            )
        path = existing_label_file(self.path)
        joined, meta = joined_label_table(path, Path(data_dir))
        se_kind = self.se_kind or recommended_estimator(joined, meta)
        try:
            se_weak, se_strong = label_table_estimates(joined, se_kind)
        except ValueError as exc:
            raise ConfigError(f"SE label file {path}: {exc}") from None
        if self.strong_share is None:
            winner = se_winner(se_strong, se_weak, self.tau)
        else:
            winner = se_winner_by_share(se_strong, se_weak, self.strong_share)
        records = preference_records(
            joined, winner,
            {"se_a": se_weak, "se_b": se_strong, "delta_se": delta_se(se_strong, se_weak)},
        )
        weak_models = frozenset(records["model_a"].unique())
        strong_models = frozenset(records["model_b"].unique())
        counts = {k: int(np.sum(winner == k)) for k in (STRONG, WEAK, TIE)}
        return LabelSet(
            records=records,
            strong_models=strong_models,
            weak_models=weak_models,
            source="se",
            meta={
                "label_file": path.name,
                "label_file_sha256": sha256_file(path),
                "weak_model": ",".join(sorted(weak_models)),
                "strong_model": ",".join(sorted(strong_models)),
                "tau": self.tau,
                "strong_share": self.strong_share,
                "label_set": path.stem,
                "se_kind": se_kind,
                "k": meta.get("k"),
                "nli": meta.get("nli"),
                "temperature": meta.get("temperature"),
                # Files written before top-k was a setting sampled the whole vocabulary.
                "top_k": meta.get("top_k", 0),
                "top_p": meta.get("top_p", 1.0),
                "n_prompts": len(records),
                "label_counts": counts,
            },
        )
