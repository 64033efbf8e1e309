"""SE numbers pinned on hand-made examples (eq. 1-4 of method.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.labels.se.entropy import (
    cluster_log_probs,
    discrete_semantic_entropy,
    estimate,
    semantic_entropy,
)
from harness.labels.se.labelling import delta_se, label_distribution, se_winner


def test_semantic_entropy_two_clusters_by_hand() -> None:
    # lls -1, -1, -2 → p ∝ e^-1, e^-1, e^-2; p(C0) = 2e^-1 / (2e^-1 + e^-2), p(C1) = rest.
    z = 2 * math.exp(-1) + math.exp(-2)
    p0, p1 = 2 * math.exp(-1) / z, math.exp(-2) / z
    expected = -(math.log(p0) + math.log(p1)) / 2
    assert semantic_entropy([0, 0, 1], [-1.0, -1.0, -2.0]) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(1.0154212, abs=1e-6)


def test_cluster_log_probs_sum_to_one() -> None:
    lp = cluster_log_probs([0, 1, 1, 2, 0], [-0.3, -2.0, -1.1, -0.7, -4.0])
    assert np.exp(lp).sum() == pytest.approx(1.0)
    assert len(lp) == 3


def test_single_cluster_is_exactly_zero() -> None:
    assert semantic_entropy([0, 0, 0], [-3.0, -1.0, -2.0]) == 0.0


def test_all_distinct_equal_likelihoods_is_log_n() -> None:
    assert semantic_entropy([0, 1, 2, 3, 4], [-0.5] * 5) == pytest.approx(math.log(5))


def test_length_normalised_likelihood_changes_weights() -> None:
    # A more likely sample in the singleton cluster lowers SE relative to equal weights.
    equal = semantic_entropy([0, 0, 1], [-1.0, -1.0, -1.0])
    skewed = semantic_entropy([0, 0, 1], [-1.0, -1.0, -0.1])
    assert equal != pytest.approx(skewed)


def test_discrete_semantic_entropy_by_hand() -> None:
    # sizes 2, 1, 1 of 4 → -(.5 ln .5 + 2 * .25 ln .25) = 1.0397207708
    assert discrete_semantic_entropy([0, 0, 1, 2]) == pytest.approx(
        -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    )
    assert discrete_semantic_entropy([3, 3, 3]) == 0.0


def test_delta_se_and_strong_zero_cases() -> None:
    strong = np.array([0.0, 0.0, 1.0, 2.0, 1.0])
    weak = np.array([0.0, 0.5, 1.2, 1.0, 1.05])
    d = delta_se(strong, weak)
    assert d[0] == 0.0  # both zero: tie for any tau
    assert np.isinf(d[1])  # strong certain, weak not: strong wins for any tau
    assert d[2:] == pytest.approx([0.2, 0.5, 0.05])


def test_winner_at_two_taus() -> None:
    strong = np.array([0.0, 0.0, 1.0, 2.0, 1.0])
    weak = np.array([0.0, 0.5, 1.2, 1.0, 1.05])
    assert se_winner(strong, weak, 0.1).tolist() == ["tie", "strong", "strong", "weak", "tie"]
    assert se_winner(strong, weak, 0.3).tolist() == ["tie", "strong", "tie", "weak", "tie"]
    assert label_distribution(strong, weak, 0.3) == {"strong": 1, "weak": 1, "tie": 3}
    with pytest.raises(ValueError):
        se_winner(strong, weak, -1.0)


def test_estimators_rank_agreement_the_right_way() -> None:
    # Two clusters with p = 0.99 / 0.01 (the example) against five equally likely.
    skewed_ids, skewed_ll = [0, 1], [math.log(0.99), math.log(0.01)]
    flat_ids, flat_ll = [0, 1, 2, 3, 4], [-1.0] * 5
    # eq. 2 as printed: the rare cluster dominates, (0.01 + 4.61) / 2 > log 5
    assert estimate("eq2", skewed_ids, skewed_ll) == pytest.approx(
        -(math.log(0.99) + math.log(0.01)) / 2
    )
    assert estimate("eq2", skewed_ids, skewed_ll) > estimate("eq2", flat_ids, flat_ll)
    # the entropy form calls the skewed case the more confident one
    assert estimate("entropy", skewed_ids, skewed_ll) < estimate("entropy", flat_ids, flat_ll)
    # the Monte-Carlo form weights by samples drawn: four of five agreeing beats five apart
    agree_ids, agree_ll = [0, 0, 0, 0, 1], [-1.0] * 5
    assert estimate("mc", agree_ids, agree_ll) < estimate("mc", flat_ids, flat_ll)
    assert estimate("eq2", agree_ids, agree_ll) > estimate("mc", agree_ids, agree_ll)
    assert estimate("entropy", flat_ids, flat_ll) == pytest.approx(math.log(5))
    assert estimate("entropy", skewed_ids, skewed_ll) == pytest.approx(
        -(0.99 * math.log(0.99) + 0.01 * math.log(0.01))
    )


def test_monte_carlo_weights_clusters_by_samples() -> None:
    # ids 0, 0, 1 with equal likelihoods: p(C0) = 2/3 counted twice, p(C1) = 1/3 once.
    expected = -(2 * math.log(2 / 3) + math.log(1 / 3)) / 3
    assert estimate("mc", [0, 0, 1], [-1.0, -1.0, -1.0]) == pytest.approx(expected)
    assert estimate("mc", [1, 1, 1], [-0.2, -3.0, -1.0]) == 0.0


def test_token_nll_is_the_mean_negative_likelihood_and_ignores_clusters() -> None:
    assert estimate("token_nll", [0, 1], [-0.5, -1.5]) == pytest.approx(1.0)
    assert estimate("token_nll", [0, 0], [-0.5, -1.5]) == pytest.approx(1.0)


def test_estimate_refuses_unknown_kind_and_missing_logprobs() -> None:
    with pytest.raises(ValueError, match="unknown SE estimator"):
        estimate("likelihood", [0], [-1.0])
    with pytest.raises(ValueError, match="needs the samples' log-likelihoods"):
        estimate("entropy", [0, 1], None)
    assert estimate("discrete", [0, 1], None) == pytest.approx(math.log(2))
