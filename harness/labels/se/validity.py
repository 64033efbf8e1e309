"""Do SE values carry signal? The SE literature's check, on any SE label set.

For each model of the pair and each training dataset with gold answers, the AUROC of each
uncertainty estimate (:data:`harness.labels.se.entropy.ESTIMATORS`) for predicting whether
that model's own greedy answer is correct (graded as the accuracy label source grades it);
lower uncertainty should mean correct, so the score is −estimate. Kuhn et al. (2023) and
Farquhar et al. (2024) report 0.75-0.85 for SE on TriviaQA / NQ / SQuAD.

Then the labels themselves: on prompts where exactly one model is right, how often the δ_SE
label (eq. 3-4 at ``tau``) names that model; ties count as misses.

Every figure carries a percentile bootstrap 95 % CI over prompts. Development and held-out
parts are split by a hash of the prompt id (:func:`split_part`), so choosing the default
estimator on ``dev`` and reporting on ``test`` never sees the same prompt twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.labels.se.entropy import ESTIMATORS, label_table_estimates
from harness.labels.se.labelling import STRONG, WEAK, se_winner
from harness.labels.se.store import read_label_file, responses_file

PARTS = ("all", "dev", "test")


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count one half); NaN when
    a class is empty."""
    score = np.asarray(score, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n1 = int(positive.sum())
    n0 = positive.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    mid_rank = upper - (counts - 1) / 2.0  # average 1-based rank of each tied group
    ranks = mid_rank[inverse]
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def bootstrap_ci(
    stat: Callable[..., Any], arrays: tuple[np.ndarray, ...], *, n_boot: int, seed: int
) -> tuple[float, float]:
    """Percentile 95 % CI of ``stat(*arrays)`` over prompts resampled with replacement."""
    n = len(arrays[0])
    if n == 0 or n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        values[b] = stat(*(a[idx] for a in arrays))
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def split_part(ids: pd.Series, dev_fraction: float = 1 / 3) -> np.ndarray:
    """``"dev"`` or ``"test"`` per prompt id, by a stable hash (the same on every machine)."""
    cut = int(dev_fraction * 2**32)
    return np.array(
        [
            "dev" if int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) < cut else "test"
            for i in ids
        ]
    )


@dataclass
class ValidityReport:
    """``auroc``: one row per (part, role, model, dataset, estimator) with n, accuracy (of the
    greedy answer), sample_accuracy (of the samples SE reads; NaN where they cannot be
    graded), AUROC and CI. ``picks``: one row per (part, estimator) with how often δ_SE
    names the only correct model. ``meta``: the label file's provenance."""

    auroc: pd.DataFrame
    picks: pd.DataFrame
    meta: dict[str, object]


def graded_label_table(
    labels: Path, responses: Path | None, data_dir: Path
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The SE label table joined with each model's graded greedy answer
    (``correct_a`` weak, ``correct_b`` strong)."""
    from harness.labels.accuracy import AccuracyLabels

    table, meta = read_label_file(labels)
    if responses is None:
        responses = responses_file(labels)
    graded = (
        AccuracyLabels(
            responses=str(responses),
            weak_model=str(table["model_a"].iloc[0]),
            strong_model=str(table["model_b"].iloc[0]),
        )
        .load(data_dir)
        .records
    )
    joined = table.merge(
        graded[["dataset", "row_id", "correct_a", "correct_b"]],
        on=["dataset", "row_id"],
        how="inner",
        validate="one_to_one",
    )
    return _with_sample_accuracy(joined, Path(labels), data_dir), meta


def _with_sample_accuracy(table: pd.DataFrame, labels: Path, data_dir: Path) -> pd.DataFrame:
    """Add ``sample_accuracy_a/b``: how often each model's samples are right.

    Why: AUROC grades the greedy answer, but SE reads the samples; when sampling (T, top-k,
    long reasoning) makes a model much worse than its greedy answer, SE measures a different
    behaviour from the one a benchmark scores. Sampled sets: the share of the K samples that
    are right; letter sets: the probability of the gold letter (their "samples" are the four
    letters, each once). Files without per-sample columns get none.
    """
    from harness.labels.grading import GRADED_DATASETS
    from harness.labels.sampled_accuracy import sample_correct_probabilities
    from harness.labels.se.sampling import MULTIPLE_CHOICE_DATASETS
    from harness.labels.se.source import joined_label_table

    datasets = set(table["dataset"])
    if "samples_a" not in table.columns or not datasets <= GRADED_DATASETS:
        return table
    joined, _ = joined_label_table(labels, data_dir)  # cached: the prompts graders need
    weighting = {d: "likelihood" if d in MULTIPLE_CHOICE_DATASETS else "uniform" for d in datasets}
    p_correct = sample_correct_probabilities(joined, labels, data_dir, weighting=weighting)
    rates = joined[["dataset", "row_id"]].assign(
        sample_accuracy_a=p_correct["a"], sample_accuracy_b=p_correct["b"]
    )
    return table.merge(rates, on=["dataset", "row_id"], how="left", validate="one_to_one")


def validate_label_table(
    table: pd.DataFrame,
    *,
    estimators: tuple[str, ...] = ESTIMATORS,
    tau: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AUROC rows and δ_SE pick rows (see :class:`ValidityReport`) of a graded table."""
    available = [
        e for e in estimators if "cluster_ids_a" in table.columns or e in ("eq2", "discrete")
    ]
    values = {e: label_table_estimates(table, e) for e in available}
    part = split_part(table["dataset"] + ":" + table["row_id"])
    auroc_rows: list[dict[str, object]] = []
    pick_rows: list[dict[str, object]] = []
    for part_name in PARTS:
        in_part = np.ones(len(table), bool) if part_name == "all" else part == part_name
        for role, side in (("weak", "a"), ("strong", "b")):
            model = str(table[f"model_{side}"].iloc[0])
            correct = table[f"correct_{side}"].to_numpy(bool)
            sampled = (
                table[f"sample_accuracy_{side}"].to_numpy(float)
                if f"sample_accuracy_{side}" in table.columns
                else np.full(len(table), np.nan)
            )
            datasets = ["all", *sorted(table["dataset"].unique())]
            for dataset in datasets:
                rows = in_part & (
                    np.ones(len(table), bool)
                    if dataset == "all"
                    else (table["dataset"] == dataset).to_numpy()
                )
                for est in available:
                    score = -values[est][0 if side == "a" else 1][rows]
                    y = correct[rows]
                    lo, hi = bootstrap_ci(auroc, (score, y), n_boot=n_boot, seed=seed)
                    auroc_rows.append(
                        {
                            "part": part_name,
                            "role": role,
                            "model": model,
                            "dataset": dataset,
                            "estimator": est,
                            "n": int(rows.sum()),
                            "accuracy": float(y.mean()) if y.size else float("nan"),
                            "sample_accuracy": (
                                float(sampled[rows].mean()) if rows.any() else float("nan")
                            ),
                            "auroc": auroc(score, y),
                            "ci_low": lo,
                            "ci_high": hi,
                        }
                    )
        a = table["correct_a"].to_numpy(bool)
        b = table["correct_b"].to_numpy(bool)
        one_right = in_part & (a != b)
        truth = np.where(b, STRONG, WEAK)[one_right]
        for est in available:
            weak_se, strong_se = values[est]
            winner = se_winner(strong_se[one_right], weak_se[one_right], tau)
            hit = (winner == truth).astype(float)
            lo, hi = bootstrap_ci(np.mean, (hit,), n_boot=n_boot, seed=seed)
            pick_rows.append(
                {
                    "part": part_name,
                    "estimator": est,
                    "tau": tau,
                    "n_one_right": int(one_right.sum()),
                    "picks_right": float(hit.mean()) if hit.size else float("nan"),
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(auroc_rows), pd.DataFrame(pick_rows)


def validate_labels(
    labels: Path,
    data_dir: Path,
    *,
    responses: Path | None = None,
    tau: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> ValidityReport:
    """:func:`validate_label_table` on a label file and its greedy responses file."""
    table, meta = graded_label_table(Path(labels), responses, Path(data_dir))
    aurocs, picks = validate_label_table(table, tau=tau, n_boot=n_boot, seed=seed)
    provenance: dict[str, object] = {
        "label_file": Path(labels).name,
        "weak_model": str(table["model_a"].iloc[0]),
        "strong_model": str(table["model_b"].iloc[0]),
        "n_prompts": len(table),
        **{k: meta.get(k) for k in ("k", "nli", "temperature", "top_k", "top_p", "seed")},
        "decoding": decoding_summary(meta, set(table["dataset"])),
    }
    return ValidityReport(auroc=aurocs, picks=picks, meta=provenance)


def decoding_summary(meta: dict[str, Any], datasets: set[str]) -> str:
    """How a label set's SE values were made, in words (its K, NLI and sampling settings
    mean nothing for exact letter distributions)."""
    from harness.labels.se.sampling import MULTIPLE_CHOICE_DATASETS

    if datasets and datasets <= MULTIPLE_CHOICE_DATASETS:
        return "exact letter distributions (one forward pass per model; no sampling, no NLI)"
    sampled = (
        f"K = {meta.get('k')} samples at T = {meta.get('temperature')}, "
        f"top-k {meta.get('top_k', 0)}, top-p {meta.get('top_p', 1.0)}"
    )
    if meta.get("reasoning_tokens"):
        return (
            f"{sampled}; step-by-step answers of up to {meta['reasoning_tokens']} tokens, "
            "clustered by their final number"
        )
    return f"{sampled}; clustered by NLI {meta.get('nli')}"
