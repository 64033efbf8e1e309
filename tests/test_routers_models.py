"""Router-specific behaviour: each built-in matches its equation on small, checkable cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routers.blend import BlendRouter
from routers.knn import KNNRouter
from routers.logreg import LogRegRouter
from routers.mf import MFRouter
from routers.mlp import MLPRouter
from routers.sw_ranking import SWRankingRouter


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _separable(seed: int = 0, n: int = 600, d: int = 16):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    X, Xq = _unit(rng, n, d), _unit(rng, 200, d)
    return X, (X @ w > 0).astype(float), Xq, (Xq @ w > 0)


def _auc(truth: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores))


def _routellm_bt_winrate(y: np.ndarray, weights: np.ndarray, seed: int) -> float:
    """RouteLLM's compute_elo_mle_with_tie on two players, re-implemented with sklearn.

    Every battle is duplicated; in the first copy a tie counts as a win for model_a, in the
    second as a loss, so a tie is one win for each side. Strong sits on a random side.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    strong_is_a = rng.random(len(y)) < 0.5
    sign = np.where(strong_is_a, 1.0, -1.0)
    a_won = np.where(strong_is_a, y == 1.0, y == 0.0)
    tie = y == 0.5
    X = np.concatenate([np.stack([sign, -sign], 1), np.stack([sign, -sign], 1)]) * math.log(10)
    Y = np.concatenate([a_won | tie, a_won]).astype(float)
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10_000)
    lr.fit(X, Y, sample_weight=np.concatenate([weights, weights]))
    xi_strong, xi_weak = lr.coef_[0]
    return 1.0 / (1.0 + 10 ** (xi_weak - xi_strong))


@pytest.mark.parametrize("similarity_norm", ["query_max", "none"])
def test_sw_matches_routellm_per_query_logistic_regression(similarity_norm: str) -> None:
    rng = np.random.default_rng(1)
    X, Xq = _unit(rng, 300, 8), _unit(rng, 6, 8)
    y = rng.choice([0.0, 0.5, 1.0], size=300, p=[0.4, 0.3, 0.3])
    router = SWRankingRouter(gamma=10.0, similarity_norm=similarity_norm).fit(X, y)
    scores = router.score(Xq)
    for i, q in enumerate(Xq):
        sims = X @ q
        if similarity_norm == "query_max":
            sims = sims / sims.max()
        weights = 10 * 10**sims  # RouteLLM's get_weightings: γ^(1 + S)
        assert scores[i] == pytest.approx(_routellm_bt_winrate(y, weights, seed=i), abs=2e-4)


def test_sw_train_max_normalises_by_each_training_rows_nearest_other_row() -> None:
    X = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    y = np.array([1.0, 0.0, 0.0])
    router = SWRankingRouter(gamma=10.0, similarity_norm="train_max").fit(X, y)
    q = np.array([[1.0, 0.0]])
    sims = X @ q[0]
    nearest_other = np.array([0.8, 0.8, 0.6])
    w = 10.0 ** (1 + sims / nearest_other)
    assert router.score(q)[0] == pytest.approx((w * y).sum() / w.sum(), rel=1e-5)


def test_sw_larger_gamma_follows_the_most_similar_rows() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 0.0])
    q = np.array([[0.9, 0.1]])
    soft = SWRankingRouter(gamma=2.0).fit(X, y).score(q)[0]
    sharp = SWRankingRouter(gamma=1000.0).fit(X, y).score(q)[0]
    assert 0.5 < soft < sharp < 1.0


def test_sw_ties_both_versus_drop() -> None:
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    y = np.array([1.0, 0.5, 0.5])
    q = np.array([[1.0, 0.0]])
    assert SWRankingRouter(ties="both").fit(X, y).score(q)[0] == pytest.approx(2 / 3)
    assert SWRankingRouter(ties="drop").fit(X, y).score(q)[0] == pytest.approx(1.0)


def test_sw_rejects_bad_gamma() -> None:
    with pytest.raises(ValueError, match="gamma"):
        SWRankingRouter(gamma=1.0).fit(np.eye(2), np.array([0.0, 1.0]))


def test_knn_k1_returns_the_nearest_label_and_k3_the_mean() -> None:
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    y = np.array([1.0, 0.0, 0.0, 0.5])
    q = np.array([[1.0, 0.05], [0.05, 1.0]])
    assert KNNRouter(k=1).fit(X, y).score(q).tolist() == [1.0, 0.0]
    np.testing.assert_allclose(KNNRouter(k=3).fit(X, y).score(q), [(1 + 0 + 0.5) / 3, 0.5 / 3])
    # drop: the tie row is gone, so the 3 nearest of the second query are rows 2, 1, 0
    np.testing.assert_allclose(KNNRouter(k=3, ties="drop").fit(X, y).score(q), [1 / 3, 1 / 3])


def test_knn_equal_similarities_pick_the_earlier_row() -> None:
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    q = np.array([[1.0, 0.0]])
    keep = KNNRouter(k=1, duplicates="keep")
    assert keep.fit(X, np.array([0.0, 1.0])).score(q)[0] == 0.0
    assert keep.fit(X, np.array([1.0, 0.0])).score(q)[0] == 1.0
    # Distinct rows at the same similarity: (0.6, 0.8) and (0.6, -0.8) to the query (1, 0).
    X2 = np.array([[0.6, 0.8], [0.6, -0.8]])
    assert KNNRouter(k=1).fit(X2, np.array([0.0, 1.0])).score(q)[0] == 0.0


def test_knn_merges_duplicate_prompts_into_their_mean_vote() -> None:
    # Three votes on prompt A (two strong wins, one weak), one on prompt B, interleaved.
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    router = KNNRouter(k=1).fit(X, y)
    assert router.X_train_.shape[0] == 2  # one row per distinct prompt, in first-seen order
    np.testing.assert_allclose(router.y_train_, [2 / 3, 0.0])
    np.testing.assert_allclose(router.score(np.array([[0.9, 0.1], [0.1, 0.9]])), [2 / 3, 0.0])
    # Whatever the row order, the merged label is the same (no vote wins by position).
    perm = [3, 1, 0, 2]
    np.testing.assert_allclose(KNNRouter(k=1).fit(X[perm], y[perm]).score(X[:2]), [2 / 3, 0.0])
    # k counts distinct prompts: the 2 nearest of A are A (2/3) and B (0).
    np.testing.assert_allclose(KNNRouter(k=2).fit(X, y).score(X[:1]), [1 / 3])
    with pytest.raises(ValueError, match="duplicates"):
        KNNRouter(duplicates="first").fit(X, y)


def test_knn_k_larger_than_training_set_uses_all_rows() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert KNNRouter(k=50).fit(X, np.array([1.0, 0.0])).score(X).tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    "router",
    [
        KNNRouter(k=15),
        SWRankingRouter(gamma=100.0),
        MLPRouter(epochs=30),
        MFRouter(epochs=60, lr=3e-3),
        LogRegRouter(C=1.0),
        LogRegRouter(C=1.0, ties="drop"),
        BlendRouter(k=15, C=1.0),
    ],
    ids=["knn", "sw", "mlp", "mf", "logreg", "logreg-drop", "blend"],
)
def test_router_learns_a_separable_signal(router) -> None:
    X, y, Xq, truth = _separable()
    assert _auc(truth, router.fit(X, y).score(Xq)) > 0.85


@pytest.mark.parametrize("cls", [MLPRouter, MFRouter])
def test_torch_routers_differ_across_seeds(cls) -> None:
    X, y, Xq, _ = _separable()
    a = cls(epochs=2, seed=0).fit(X, y).score(Xq)
    b = cls(epochs=2, seed=1).fit(X, y).score(Xq)
    assert not np.allclose(a, b)


def test_mf_is_bradley_terry_antisymmetric_in_the_model_pair() -> None:
    import torch

    X, y, Xq, _ = _separable()
    router = MFRouter(epochs=5).fit(X, y)
    m = router.module_
    with torch.no_grad():
        u = m.text_proj(torch.tensor(Xq, dtype=torch.float32))
        v = torch.nn.functional.normalize(m.models.weight, dim=1)
        s_weak, s_strong = (m.classifier(v[i] * u).squeeze(-1) for i in (0, 1))
        p_weak_beats_strong = torch.sigmoid(s_weak - s_strong).numpy()
    np.testing.assert_allclose(router.score(Xq), 1.0 - p_weak_beats_strong, atol=1e-6)


def test_mlp_numpy_scores_equal_the_torch_softmax() -> None:
    import torch

    X, y, Xq, _ = _separable()
    router = MLPRouter(epochs=3, hidden_size=32).fit(X, y)
    with torch.no_grad():
        probs = torch.softmax(router.module_(torch.tensor(Xq, dtype=torch.float32)), dim=1)
    np.testing.assert_allclose(router.score(Xq), probs[:, 1].numpy(), atol=1e-5)


def test_mf_closed_form_gradients_equal_autograd() -> None:
    import torch

    from routers.mf import _build_module

    torch.manual_seed(0)
    module = _build_module(24, 8)
    x = torch.randn(40, 24)
    y = torch.tensor(np.random.default_rng(0).choice([0.0, 0.5, 1.0], size=40), dtype=torch.float32)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(module(x), y)
    loss.backward()
    expected = [p.grad.clone() for p in module.parameters()]
    for p in module.parameters():
        p.grad = None
    module.set_loss_gradients(x, y)
    for want, p in zip(expected, module.parameters(), strict=True):
        torch.testing.assert_close(p.grad, want, rtol=1e-5, atol=1e-7)



@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_blend_is_the_weighted_mean_of_its_members(share: float) -> None:
    X, y, Xq, _ = _separable()
    knn = KNNRouter(k=9, weights="similarity").fit(X, y).score(Xq)
    logreg = LogRegRouter(C=0.5).fit(X, y).score(Xq)
    blend = BlendRouter(k=9, C=0.5, knn_share=share, weights="similarity").fit(X, y)
    np.testing.assert_allclose(blend.score(Xq), share * knn + (1 - share) * logreg, atol=1e-12)


def test_blend_refuses_a_share_outside_zero_to_one() -> None:
    X, y, _, _ = _separable()
    with pytest.raises(ValueError, match="knn_share"):
        BlendRouter(knn_share=1.5).fit(X, y)
