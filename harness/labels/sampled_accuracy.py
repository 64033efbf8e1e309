"""Sampled-accuracy labels: each model's chance of being right, from an SE label file's samples.

The control that tells semantic entropy apart from "more than one answer per prompt". An SE
label file holds K answers per model and prompt with their log-likelihoods; an accuracy label
grades one greedy answer. This source grades every sample against gold and weights it as the
SE estimators do (p(s|x), the normalised sample likelihoods of
:func:`harness.labels.se.entropy.cluster_log_probs`, or 1/K), so

    P(correct | x) = Σ_{i: s_i correct} p(s_i | x)

is each model's probability of answering correctly. On a multiple-choice set, whose "samples"
are the four letters with their exact probabilities, it is the probability of the gold letter.
Prompts are then labelled as ``se`` labels are with ``strong_share``: the share of prompts with
the largest P_strong − P_weak are "strong", the rest "weak".

Why: where one greedy answer is a noisy label (a weak model at chance on four letters is
"right" on a quarter of the prompts by luck), any label that averages over samples may beat
it; SE labels earn credit for their semantics only if they also beat this one, which reads the
same samples and needs gold answers besides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.labels.base import LabelSource
from harness.labels.grading import GRADED_DATASETS, grade
from harness.labels.se.entropy import cluster_log_probs
from harness.labels.se.labelling import STRONG, WEAK, se_winner_by_share
from harness.labels.se.source import existing_label_file, joined_label_table, preference_records
from harness.records import LabelSet
from harness.search_space import Choice, FloatRange, ParamSpec

WEIGHTINGS = ("likelihood", "uniform")


def correct_probability(
    correct: np.ndarray, log_likelihoods: np.ndarray | None, weighting: str = "likelihood"
) -> float:
    """Σ of the weights of the correct samples: ``likelihood`` weights are p(s|x) (the samples'
    normalised likelihoods, as SE's p(C|x)); ``uniform`` weights are 1/K."""
    ok = np.asarray(correct, dtype=bool)
    if ok.size == 0:
        raise ValueError("need at least one sample")
    if not ok.any():
        return 0.0
    if weighting == "uniform":
        return float(ok.mean())
    if weighting != "likelihood":
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if log_likelihoods is None:
        raise ValueError("weighting='likelihood' needs the samples' log-likelihoods")
    # The correct samples form one "cluster": its p(C|x) is the probability of being right.
    log_p = cluster_log_probs(ok.astype(int).tolist(), np.asarray(log_likelihoods, float).tolist())
    return float(np.exp(log_p[-1]))


def gold_answers(path: Path, datasets: list[str], data_dir: Path) -> pd.Series:
    """Gold answers indexed ``dataset:row_id`` for the datasets of SE label file ``path``."""
    from harness.training_data import load_dataset

    parts = []
    for name in datasets:
        if name not in GRADED_DATASETS:
            raise DataError(
                f"SE label file {path}: dataset {name!r} has no gold answers to grade "
                f"samples against; grading samples needs one of {sorted(GRADED_DATASETS)}"
            )
        table = load_dataset(name, data_dir)
        parts.append(table.set_index(table["dataset"] + ":" + table["row_id"].astype(str)))
    return pd.concat(parts)["answers"]


def sample_correct_probabilities(
    joined: pd.DataFrame,
    path: Path,
    data_dir: Path,
    *,
    weighting: str | dict[str, str] = "likelihood",
    qa_mode: str = "contains",
) -> dict[str, np.ndarray]:
    """Each model's P(correct | x) per row of a joined SE label table (weak ``"a"``, strong
    ``"b"``): its samples graded against gold and weighted as :func:`correct_probability`.

    ``weighting`` may map a dataset name to its weighting (others: ``"likelihood"``).
    """
    ids = joined["dataset"] + ":" + joined["row_id"]
    gold = gold_answers(path, sorted(joined["dataset"].unique()), data_dir)
    p_correct: dict[str, np.ndarray] = {}
    for side in ("a", "b"):
        values = []
        for key, dataset, prompt, samples, lls in zip(
            ids, joined["dataset"], joined["prompt"], joined[f"samples_{side}"],
            joined[f"sample_ll_{side}"], strict=True,
        ):
            answers = list(gold[key])
            correct = np.array(
                [grade(dataset, str(s), answers, qa_mode, question=prompt) for s in samples],
                dtype=bool,
            )
            how = weighting if isinstance(weighting, str) else weighting.get(dataset, "likelihood")
            values.append(correct_probability(
                correct, None if lls is None else np.asarray(lls, float), how
            ))
        p_correct[side] = np.asarray(values, dtype=float)
    return p_correct


class SampledAccuracyLabels(LabelSource):
    """Preference labels from each model's probability of a correct answer (module docstring).

    Args:
        path: an SE label file with per-sample columns, or a committed set's name
            (``default``, ``mmlu_train``, ``gsm8k_train``); None = ``default``.
        weighting: ``"likelihood"`` (default: the samples' normalised likelihoods, the
            weights SE's cluster probabilities use) or ``"uniform"`` (the share of the K
            samples that are right).
        strong_share: the share of prompts labelled strong: those with the largest
            P_strong(correct) − P_weak(correct). Equal gaps at the cut all fall on the weak
            side, so on a set where both models are mostly wrong (gap 0) fewer prompts are
            labelled strong than the share asks.
        qa_mode: "contains" or "exact" alias matching for NQ-open / TriviaQA answers.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {"weighting": Choice(WEIGHTINGS)}
    param_rules: ClassVar[dict[str, ParamSpec]] = {
        "strong_share": FloatRange(0.1, 0.9, min=0.0, max=1.0),
        "qa_mode": Choice(("contains", "exact")),
    }

    def __init__(
        self,
        path: str | None = None,
        weighting: str = "likelihood",
        strong_share: float = 0.5,
        qa_mode: str = "contains",
    ) -> None:
        self.path = path
        self.weighting = weighting
        self.strong_share = strong_share
        self.qa_mode = qa_mode

    def load(self, data_dir: Path) -> LabelSet:
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(
                f"sampled_accuracy label source: weighting must be one of "
                f"{', '.join(WEIGHTINGS)}, got {self.weighting!r}"
            )
        if not 0 < self.strong_share < 1:
            raise ConfigError(
                f"sampled_accuracy label source: strong_share must be in (0, 1), got "
                f"{self.strong_share}"
            )
        path = existing_label_file(self.path)
        joined, meta = joined_label_table(path, Path(data_dir))
        if "samples_a" not in joined.columns or "sample_ll_a" not in joined.columns:
            raise DataError(
                f"SE label file {path} has no per-sample columns (samples_a/b, sample_ll_a/b), "
                "so its samples cannot be graded; rebuild it with `routerlab labels se`"
            )
        p_correct = sample_correct_probabilities(
            joined, path, Path(data_dir), weighting=self.weighting, qa_mode=self.qa_mode
        )
        gap = p_correct["b"] - p_correct["a"]
        if len(gap) and np.ptp(gap) == 0:
            # e.g. weighting="uniform" on a letter set: every letter is "sampled" once, so
            # both models are right with probability 1/4 everywhere and no prompt ranks first.
            raise ConfigError(
                f"sampled_accuracy labels of {path}: P_strong − P_weak is {gap[0]:.3g} on every "
                f"prompt, so no prompt can be ranked strong (weighting={self.weighting!r}); "
                "use weighting='likelihood'"
            )
        # se_winner_by_share ranks by "uncertainty" gap; 1 − P(correct) is that uncertainty.
        winner = se_winner_by_share(1 - p_correct["b"], 1 - p_correct["a"], self.strong_share)
        records = preference_records(
            joined, winner, {"p_correct_a": p_correct["a"], "p_correct_b": p_correct["b"]}
        )
        weak_models = frozenset(records["model_a"].unique())
        strong_models = frozenset(records["model_b"].unique())
        extra: dict[str, Any] = {k: meta.get(k) for k in ("k", "nli", "temperature")}
        return LabelSet(
            records=records,
            strong_models=strong_models,
            weak_models=weak_models,
            source="sampled_accuracy",
            meta={
                "label_file": path.name,
                "label_file_sha256": sha256_file(path),
                "label_set": path.stem,
                "weak_model": ",".join(sorted(weak_models)),
                "strong_model": ",".join(sorted(strong_models)),
                "weighting": self.weighting,
                "strong_share": self.strong_share,
                "qa_mode": self.qa_mode,
                "n_prompts": len(records),
                "weak_p_correct": float(p_correct["a"].mean()) if len(records) else np.nan,
                "strong_p_correct": float(p_correct["b"].mean()) if len(records) else np.nan,
                "label_counts": {STRONG: int((winner == STRONG).sum()),
                                 WEAK: int((winner == WEAK).sum())},
                **extra,
            },
        )
