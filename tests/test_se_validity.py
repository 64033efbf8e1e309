"""SE label validity: AUROC (checked against scikit-learn), bootstrap CIs, δ_SE pick rate,
and the validate command on the committed label set with the real data directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.labels.se.validity import auroc, bootstrap_ci, split_part, validate_label_table


def test_auroc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    score = rng.integers(0, 6, 300).astype(float)  # many ties
    y = rng.random(300) < 0.3 + 0.08 * score
    assert auroc(score, y) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert auroc(score, -np.ones(300) < 0) != auroc(score, -np.ones(300) < 0)  # NaN: one class


def test_bootstrap_ci_brackets_the_estimate_and_narrows_with_n() -> None:
    rng = np.random.default_rng(0)
    small = (rng.random(50) < 0.5).astype(float)
    large = (rng.random(5000) < 0.5).astype(float)
    lo_s, hi_s = bootstrap_ci(np.mean, (small,), n_boot=300, seed=1)
    lo_l, hi_l = bootstrap_ci(np.mean, (large,), n_boot=300, seed=1)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3


def test_split_is_stable_and_about_one_third() -> None:
    ids = pd.Series([f"nq_open:{i}" for i in range(3000)])
    part = split_part(ids)
    assert (part == split_part(ids)).all()
    assert 0.3 < (part == "dev").mean() < 0.37


def _graded_table(n: int, informative: bool) -> pd.DataFrame:
    """Synthetic graded label rows: strong model correct when its samples agree."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        n_b = int(rng.integers(1, 6))
        n_a = int(rng.integers(1, 6))
        ids_b = list(range(n_b)) + [0] * (5 - n_b)
        ids_a = list(range(n_a)) + [0] * (5 - n_a)
        correct_b = (n_b <= 2) if informative else bool(rng.random() < 0.5)
        rows.append(
            {
                "dataset": "nq_open",
                "row_id": str(i),
                "model_a": "w",
                "model_b": "s",
                "se_a": 0.0,
                "se_b": 0.0,
                "se_discrete_a": 0.0,
                "se_discrete_b": 0.0,
                "cluster_ids_a": ids_a,
                "cluster_ids_b": ids_b,
                "sample_ll_a": list(rng.normal(-1, 0.3, 5)),
                "sample_ll_b": list(rng.normal(-1, 0.3, 5)),
                "correct_a": n_a <= 2,
                "correct_b": correct_b,
            }
        )
    return pd.DataFrame(rows)


def test_validity_separates_informative_from_random_labels() -> None:
    good, good_picks = validate_label_table(_graded_table(400, True), n_boot=100)
    bad, _ = validate_label_table(_graded_table(400, False), n_boot=100)

    def strong_all(frame: pd.DataFrame, est: str) -> pd.Series:
        sel = (frame.part == "all") & (frame.role == "strong") & (frame.dataset == "all")
        return frame[sel & (frame.estimator == est)].iloc[0]

    for est in ("entropy", "mc", "discrete"):
        row = strong_all(good, est)
        assert row.auroc > 0.85 and row.ci_low > 0.75
        assert strong_all(bad, est).ci_low < 0.5 < strong_all(bad, est).ci_high
    # token likelihoods are noise here, so the non-semantic baseline sits near 0.5
    assert abs(strong_all(good, "token_nll").auroc - 0.5) < 0.12
    # both models' correctness follows agreement, so δ_SE names the right one most of the time
    pick = good_picks[(good_picks.part == "all") & (good_picks.estimator == "discrete")].iloc[0]
    assert pick.picks_right > 0.8 and pick.n_one_right > 50
    assert set(good["part"]) == {"all", "dev", "test"}


def test_validate_command_on_committed_set(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from routerlab.cli import main

    assert main(["labels", "validate", "--n-boot", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = pd.DataFrame(out["auroc"])
    assert set(rows["role"]) == {"weak", "strong"}
    assert {"nq_open", "triviaqa", "mawps", "all"} <= set(rows["dataset"])
    assert {"eq2", "discrete"} <= set(rows["estimator"])
    assert rows["auroc"].between(0, 1).all()
    assert (rows["ci_low"] <= rows["auroc"] + 1e-9).all()
    assert out["meta"]["weak_model"] == "qwen-0.5b"

    # The run logged to MLflow is what the report's "SE label validity" table reads.
    from reports.build import load_se_validity
    from reports.render import to_markdown
    from reports.tables import se_validity_table

    logged = load_se_validity()
    assert list(logged) == ["default_labels.parquet"]
    aurocs, picks, meta = logged["default_labels.parquet"]
    assert len(aurocs) == len(pd.DataFrame(out["auroc"])) * 3  # all, dev and test parts
    table = to_markdown(se_validity_table(aurocs, picks, meta))
    assert "SE label validity" in table and "qwen-1.5b (strong)" in table
    # AUROCs to three decimals, their CIs to two (one decimal made [0.55, 0.65] read [0.6, 0.6]).
    cell = aurocs[(aurocs["part"] == "all") & (aurocs["role"] == "strong")
                  & (aurocs["dataset"] == "all") & (aurocs["estimator"] == "entropy")].iloc[0]
    assert f"{cell['auroc']:.3f} [{cell['ci_low']:.2f}, {cell['ci_high']:.2f}]" in table


def test_sample_accuracy_is_the_share_of_right_samples(data_dir: Path) -> None:
    # The committed GSM8K set: each sample is the number a step-by-step answer ended on, so
    # "right" is that number equal to gold, counted here without the harness's grader.
    from harness.labels.se.source import existing_label_file
    from harness.labels.se.store import read_label_file
    from harness.labels.se.validity import validate_labels
    from harness.training_data import load_gsm8k_train

    path = existing_label_file("gsm8k_train")
    report = validate_labels(path, data_dir, n_boot=20)
    table, _ = read_label_file(path)
    gold = load_gsm8k_train(data_dir).set_index("row_id")["answers"].map(lambda a: float(a[0]))

    def right(sample: str, row_id: str) -> bool:
        try:
            return float(sample.replace(",", "")) == gold[row_id]
        except ValueError:  # "no answer"
            return False

    rows = report.auroc[(report.auroc["part"] == "all") & (report.auroc["dataset"] == "all")]
    for role, side in (("weak", "a"), ("strong", "b")):
        expected = np.mean([
            np.mean([right(str(s), rid) for s in samples])
            for rid, samples in zip(table["row_id"], table[f"samples_{side}"], strict=True)
        ])
        logged = rows[rows["role"] == role]
        assert logged["sample_accuracy"].to_numpy() == pytest.approx(expected, abs=1e-9)
        # greedy accuracy is graded from other answers, so the two columns are not one number
        assert (logged["sample_accuracy"] != logged["accuracy"]).all()

    from reports.render import to_markdown
    from reports.tables import se_validity_table

    markdown = to_markdown(se_validity_table(report.auroc, report.picks, report.meta))
    assert "acc. (samples)" in markdown and "acc. (samples): share of the samples" in markdown
    # a table logged before the column existed renders without it
    old = se_validity_table(report.auroc.drop(columns="sample_accuracy"), report.picks,
                            report.meta)
    assert "acc. (samples)" not in to_markdown(old)


@pytest.mark.parametrize(
    "flag, value", [("--samples", "0"), ("--top-k", "-1"), ("--top-p", "0.0"), ("--limit", "0")]
)
def test_labels_se_rejects_bad_values_before_loading_anything(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from routerlab.cli import main

    out = tmp_path / "never.parquet"
    assert main(["labels", "se", flag, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{flag} {value}" in err and "is not allowed" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
