"""Conformance tests every router must pass (built-ins and plugins alike).

A plugin author subclasses :class:`RouterConformanceTests` in their own test suite, the way
optuna ships its sampler tests::

    from harness.testing import RouterConformanceTests
    from my_package import MyRouter

    class TestMyRouter(RouterConformanceTests):
        router_class = MyRouter
        router_params = {"epochs": 2}     # keep the suite fast

pytest collects the subclass (its name starts with ``Test``) and runs every ``test_*`` method
below against ``router_class``. The checks: the class passes the registry's interface check;
``fit`` returns the router; ``score`` gives one finite value in [0, 1] per row, whatever the
batch; the same hyper-parameters (and ``seed``) give the same scores; labels that are all
ties or all one class do not crash ``fit``; ``clone``/``get_params``/``set_params`` round
trip; every ``search_space`` entry names a keyword and its range ends can be fitted.

The data are synthetic unit vectors with a learnable signal, so the suite needs no files and
runs in seconds. No pytest import is needed: failures are plain ``AssertionError``s.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, IntRange
from routers.base import Router, validate_router_class


class RouterConformanceTests:
    """Mixin of pytest test methods; set ``router_class`` (and optionally the rest).

    Attributes:
        router_class: the router under test.
        router_params: keyword arguments used for every instance (make training short).
        n_train, n_test, dim: size of the synthetic data.
        batch_invariant: False for routers whose score of a row legitimately depends on
            the other rows scored with it (e.g. a random router drawing one stream per call).
    """

    router_class: ClassVar[type[Router]]
    router_params: ClassVar[dict[str, Any]] = {}
    n_train: ClassVar[int] = 240
    n_test: ClassVar[int] = 40
    dim: ClassVar[int] = 16
    batch_invariant: ClassVar[bool] = True

    # -- helpers --------------------------------------------------------------------------
    def make_router(self, **overrides: Any) -> Router:
        params = {**self.router_params, **overrides}
        return self.router_class(**params)

    def make_data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit-vector embeddings; y is 1/0 by a hidden direction, with ~20 % ties."""
        rng = np.random.default_rng(seed)
        direction = rng.normal(size=self.dim)

        def unit(n: int) -> np.ndarray:
            x = rng.normal(size=(n, self.dim))
            return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)

        X, Xq = unit(self.n_train), unit(self.n_test)
        y = (X @ direction > 0).astype(np.float64)
        y[rng.random(self.n_train) < 0.2] = 0.5
        return X, y, Xq

    def assert_valid_scores(self, scores: np.ndarray, n: int) -> None:
        s = np.asarray(scores)
        assert s.shape == (n,), f"score() must return shape ({n},), got {s.shape}"
        assert np.issubdtype(s.dtype, np.floating), f"scores must be floats, got {s.dtype}"
        assert np.isfinite(s).all(), "scores must be finite"
        if s.size:
            assert s.min() >= 0.0 and s.max() <= 1.0, (
                f"scores must lie in [0, 1], got [{s.min()}, {s.max()}]"
            )

    def _fit_score(self, router: Router, seed: int = 0) -> np.ndarray:
        X, y, Xq = self.make_data(seed)
        router.fit(X, y)
        return router.score(Xq)

    # -- the interface --------------------------------------------------------------------
    def test_passes_registry_validation(self) -> None:
        validate_router_class(self.router_class.__name__, self.router_class)

    def test_fit_returns_self(self) -> None:
        X, y, _ = self.make_data()
        router = self.make_router()
        assert router.fit(X, y) is router, "fit() must return the router itself"

    def test_score_shape_and_range(self) -> None:
        self.assert_valid_scores(self._fit_score(self.make_router()), self.n_test)

    def test_score_single_row_and_empty(self) -> None:
        X, y, Xq = self.make_data()
        router = self.make_router().fit(X, y)
        self.assert_valid_scores(router.score(Xq[:1]), 1)
        self.assert_valid_scores(router.score(Xq[:0]), 0)

    def test_score_does_not_depend_on_batch(self) -> None:
        if not self.batch_invariant:
            return
        X, y, Xq = self.make_data()
        router = self.make_router().fit(X, y)
        whole = router.score(Xq)
        half = self.n_test // 2
        parts = np.concatenate([router.score(Xq[:half]), router.score(Xq[half:])])
        np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)

    def test_does_not_modify_inputs(self) -> None:
        X, y, Xq = self.make_data()
        X0, y0, Xq0 = X.copy(), y.copy(), Xq.copy()
        self.make_router().fit(X, y).score(Xq)
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(Xq, Xq0)

    # -- determinism ----------------------------------------------------------------------
    def test_deterministic_under_seed(self) -> None:
        overrides = {"seed": 123} if "seed" in self.router_class.param_names() else {}
        first = self._fit_score(self.make_router(**overrides))
        second = self._fit_score(self.make_router(**overrides))
        np.testing.assert_array_equal(first, second)

    def test_fit_leaves_global_rng_alone(self) -> None:
        state = np.random.get_state()
        expected = np.random.random()
        np.random.set_state(state)
        self._fit_score(self.make_router())
        assert np.random.random() == expected, "fit/score must not consume numpy's global RNG"

    # -- degenerate labels ----------------------------------------------------------------
    def _tie_modes(self) -> list[dict[str, Any]]:
        if "ties" in self.router_class.param_names():
            return [{"ties": "both"}, {"ties": "drop"}]
        return [{}]

    def test_fit_on_all_ties(self) -> None:
        X, _, Xq = self.make_data()
        for mode in self._tie_modes():
            router = self.make_router(**mode).fit(X, np.full(len(X), 0.5))
            self.assert_valid_scores(router.score(Xq), len(Xq))

    def test_fit_on_single_class(self) -> None:
        X, _, Xq = self.make_data()
        for value in (0.0, 1.0):
            for mode in self._tie_modes():
                router = self.make_router(**mode).fit(X, np.full(len(X), value))
                scores = router.score(Xq)
                self.assert_valid_scores(scores, len(Xq))

    # -- parameters -----------------------------------------------------------------------
    def test_clone_from_get_params(self) -> None:
        router = self.make_router()
        params = router.get_params()
        assert set(params) == set(self.router_class.param_names())
        clone = type(router)(**params)
        assert clone.get_params() == params
        assert router.clone().get_params() == params
        X, y, Xq = self.make_data()
        np.testing.assert_array_equal(router.fit(X, y).score(Xq), clone.fit(X, y).score(Xq))

    def test_set_params_round_trip(self) -> None:
        router = self.make_router()
        params = router.get_params()
        assert router.set_params(**params) is router
        assert router.get_params() == params
        try:
            router.set_params(no_such_hyper_parameter=1)
        except ValueError:
            pass
        else:
            raise AssertionError("set_params must reject unknown names with ValueError")

    def test_search_space_ranges_fit(self) -> None:
        names = set(self.router_class.param_names())
        for key, spec in self.router_class.search_space.items():
            assert key in names, f"search_space key {key!r} is not an __init__ keyword"
            if isinstance(spec, Choice):
                values = list(spec.choices)
            elif isinstance(spec, FloatRange | IntRange):
                assert spec.low <= spec.high, f"search_space[{key!r}] has low > high"
                values = [spec.low, spec.high]
            else:
                raise AssertionError(f"search_space[{key!r}] is not a FloatRange/IntRange/Choice")
            for value in values:
                scores = self._fit_score(self.make_router(**{key: value}))
                self.assert_valid_scores(scores, self.n_test)
