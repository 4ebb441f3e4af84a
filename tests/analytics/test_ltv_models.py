"""BG/NBD and Gamma-Gamma against the published CDNOW estimates, and on simulated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from siyu.analytics import bgnbd
from siyu.analytics import gamma_gamma as gg
from siyu.core.errors import InvalidInputError

CDNOW = Path(__file__).parent / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> np.ndarray:
    return np.genfromtxt(CDNOW, delimiter=",", names=True)


def test_bgnbd_recovers_the_published_cdnow_estimates(cdnow: np.ndarray) -> None:
    assert len(cdnow) == 2357
    params = bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert params.r == pytest.approx(0.243, abs=5e-4)
    assert params.alpha == pytest.approx(4.414, abs=5e-3)
    assert params.a == pytest.approx(0.793, abs=5e-4)
    assert params.b == pytest.approx(2.426, abs=5e-3)
    ll = bgnbd.log_likelihood(params, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert ll == pytest.approx(-9582.4, abs=0.1)


def test_bgnbd_conditional_expectation_matches_the_paper(cdnow: np.ndarray) -> None:
    params = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    one = (np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert bgnbd.expected_purchases(params, 39, *one)[0] == pytest.approx(1.226, abs=2e-3)
    alive = bgnbd.p_alive(params, *one)[0]
    assert 0.7 < alive < 0.75
    assert bgnbd.p_alive(params, np.array([0.0]), np.array([0.0]), np.array([38.0]))[0] == 1.0


def test_gamma_gamma_recovers_the_published_cdnow_estimates(cdnow: np.ndarray) -> None:
    params = gg.fit(cdnow["x"], cdnow["zbar"])
    assert len(gg.repeat_customers(cdnow["x"], cdnow["zbar"])[0]) == 946
    assert params.p == pytest.approx(6.25, abs=5e-3)
    assert params.q == pytest.approx(3.74, abs=5e-3)
    assert params.gamma == pytest.approx(15.44, abs=1e-2)
    # Population mean for a new customer; the customer's own mean pulls it toward theirs.
    new, own = gg.expected_value(params, np.array([0.0, 10.0]), np.array([0.0, 60.0]))
    assert new == pytest.approx(gg.population_mean(params))
    assert new < own < 60.0


def _numeric_gradient(f: object, at: np.ndarray) -> np.ndarray:
    return optimize.approx_fprime(at, lambda v: f(v)[0], 1e-6)  # type: ignore[operator]


def test_analytic_gradients_match_finite_differences(cdnow: np.ndarray) -> None:
    x, t_x, big_t, weights = bgnbd.collapse(cdnow["x"], cdnow["t_x"], cdnow["T"])
    at = np.log([0.5, 3.0, 1.2, 2.0])
    f = lambda v: bgnbd._negative_ll_and_gradient(v, x, t_x, big_t, weights)  # noqa: E731
    np.testing.assert_allclose(f(at)[1], _numeric_gradient(f, at), rtol=1e-4, atol=1e-3)
    xs, ms = gg.repeat_customers(cdnow["x"], cdnow["zbar"])
    at3 = np.log([4.0, 2.0, 10.0])
    g = lambda v: gg._negative_ll_and_gradient(v, xs, ms)  # noqa: E731
    np.testing.assert_allclose(g(at3)[1], _numeric_gradient(g, at3), rtol=1e-4, atol=1e-3)


def test_bgnbd_recovers_simulated_parameters() -> None:
    truth = bgnbd.BGNBDParams(r=0.5, alpha=8.0, a=0.9, b=3.0)
    x, t_x, big_t = bgnbd.simulate(truth, 20_000, 52.0, seed=7)
    fitted = bgnbd.fit(x, t_x, big_t)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.2), name


def test_fits_refuse_data_that_identify_nothing() -> None:
    with pytest.raises(InvalidInputError):
        bgnbd.fit([0, 0], [0, 0], [5, 5])
    with pytest.raises(InvalidInputError):
        bgnbd.fit([1], [3], [2])  # t_x > T
    with pytest.raises(InvalidInputError):
        gg.fit([1], [10.0])


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 30),
    gap=st.floats(0, 50, allow_nan=False),
    extra=st.floats(0, 50, allow_nan=False),
    horizon=st.floats(0.5, 100, allow_nan=False),
)
def test_predictions_are_probabilities_and_grow_with_horizon(
    x: int, gap: float, extra: float, horizon: float
) -> None:
    params = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    t_x = np.array([gap if x else 0.0])
    big_t = t_x + extra
    xs = np.array([float(x)])
    alive = bgnbd.p_alive(params, xs, t_x, big_t)[0]
    assert 0.0 <= alive <= 1.0
    near = bgnbd.expected_purchases(params, horizon, xs, t_x, big_t)[0]
    far = bgnbd.expected_purchases(params, horizon * 2, xs, t_x, big_t)[0]
    assert 0.0 <= near <= far + 1e-9
