"""SE numbers pinned on hand-made examples (eq. 1-4 of method.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.labels.se.entropy import (
    cluster_log_probs,
    discrete_semantic_entropy,
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
