"""The batched in-process sampler's token draw (pure logic: a logits row in, a token out)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.llm.inprocess import sample_token

ROW = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))


def _draws(n: int, **kw: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.bincount([sample_token(ROW, rng, **kw) for _ in range(n)], minlength=4) / n


def test_temperature_zero_is_the_argmax() -> None:
    rng = np.random.default_rng(0)
    assert {sample_token(ROW, rng, temperature=0.0) for _ in range(50)} == {0}


def test_temperature_one_draws_from_the_softmax() -> None:
    assert _draws(20_000, temperature=1.0) == pytest.approx([0.5, 0.3, 0.15, 0.05], abs=0.015)


def test_top_k_keeps_the_k_most_likely_renormalised() -> None:
    assert _draws(20_000, temperature=1.0, top_k=2) == pytest.approx(
        [0.5 / 0.8, 0.3 / 0.8, 0, 0], abs=0.015
    )


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    # 0.5 + 0.3 = 0.8 >= 0.7: the two most likely tokens, renormalised.
    assert _draws(20_000, temperature=1.0, top_p=0.7) == pytest.approx(
        [0.5 / 0.8, 0.3 / 0.8, 0, 0], abs=0.015
    )
    # top-p after top-k, on what top-k left: 0.5 / 0.8 = 0.625 >= 0.6, the first alone.
    assert _draws(2_000, temperature=1.0, top_k=2, top_p=0.6).tolist() == [1.0, 0, 0, 0]


def test_temperature_sharpens_and_flattens() -> None:
    cold = _draws(20_000, temperature=0.5)
    hot = _draws(20_000, temperature=2.0)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    assert cold == pytest.approx(p**2 / (p**2).sum(), abs=0.015)
    assert hot == pytest.approx(np.sqrt(p) / np.sqrt(p).sum(), abs=0.015)


def test_a_draw_depends_on_the_seed_alone() -> None:
    a = [sample_token(ROW, np.random.default_rng(7), temperature=1.0) for _ in range(5)]
    assert len(set(a)) == 1
