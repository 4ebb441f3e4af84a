"""The Gamma-Gamma spend model (Fader & Hardie 2013), fitted by maximum likelihood.

A customer's transaction values are Gamma(p, ν) around their own mean p/ν, and ν varies
across customers as Gamma(q, γ). For a customer with ``x`` repeat transactions of average
value ``m`` the note's likelihood is::

    f(m | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m^(px-1) · x^(px) / (γ + m x)^(px+q)

implemented here from the note with its analytic gradient, together with the expected
average transaction value of a customer (eq. 5), a weighted mean of the population mean
and the customer's own. Only customers with x > 0 enter the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from siyu.core.errors import InvalidInputError

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters: shape p of spend, Gamma(q, γ) of its scale."""

    p: float
    q: float
    gamma: float

    def as_array(self) -> Array:
        """The parameters as ``[p, q, gamma]``."""
        return np.array([self.p, self.q, self.gamma])


def _each_ll(theta: Array, x: Array, m: Array) -> Array:
    p, q, g = theta
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + m * x),
        dtype=np.float64,
    )


def log_likelihood(params: GammaGammaParams, x: Array, m: Array) -> float:
    """Sum of the log-likelihoods of customers with ``x`` > 0 repeat values averaging ``m``."""
    return float(np.sum(_each_ll(params.as_array(), x, m)))


def _negative_ll_and_gradient(log_theta: Array, x: Array, m: Array) -> tuple[float, Array]:
    theta = np.exp(log_theta)
    p, q, g = theta
    px = p * x
    psi_all = special.digamma(px + q)
    log_gmx = np.log(g + m * x)
    d_p = x * (psi_all - special.digamma(px) + np.log(m) + np.log(x) - log_gmx)
    d_q = psi_all - special.digamma(q) + np.log(g) - log_gmx
    d_g = q / g - (px + q) / (g + m * x)
    grad = np.array([d_p.sum(), d_q.sum(), d_g.sum()]) * theta
    return -float(np.sum(_each_ll(theta, x, m))), -grad


def repeat_customers(x: Array | list[float], m: Array | list[float]) -> tuple[Array, Array]:
    """The (x, m) of customers with at least one repeat purchase and a positive mean value."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(m, dtype=np.float64)
    if xs.shape != ms.shape or xs.ndim != 1:
        raise InvalidInputError("x and m must be 1-d arrays of one length", field="x")
    keep = (xs > 0) & (ms > 0)
    return xs[keep], ms[keep]


def fit(
    x: Array | list[float], m: Array | list[float], *, initial: GammaGammaParams | None = None
) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' (x, mean value).

    Raises:
        InvalidInputError: fewer than two repeat customers with a positive spend.
    """
    xs, ms = repeat_customers(x, m)
    if len(xs) < 2:
        raise InvalidInputError(
            "need at least two customers with repeat purchases to fit Gamma-Gamma", field="x"
        )
    start = initial or GammaGammaParams(1.0, 1.0, float(np.mean(ms)))
    result = optimize.minimize(
        _negative_ll_and_gradient,
        np.log(start.as_array()),
        args=(xs, ms),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-20.0, 20.0)] * 3,
        options={"maxiter": 1000, "gtol": 1e-9, "ftol": 1e-14},
    )
    p, q, g = (float(v) for v in np.exp(result.x))
    return GammaGammaParams(p=p, q=q, gamma=g)


def population_mean(params: GammaGammaParams) -> float:
    """Mean transaction value across customers, pγ/(q−1); infinite when q ≤ 1."""
    return params.p * params.gamma / (params.q - 1.0) if params.q > 1.0 else float("inf")


def expected_value(params: GammaGammaParams, x: Array, m: Array) -> Array:
    """E[a customer's mean transaction value | x, m] (Fader & Hardie 2013, eq. 5).

    A customer without repeat purchases gets the population mean.
    """
    p, q, g = params.as_array()
    denominator = p * x + q - 1.0
    own = np.where(x > 0, m, 0.0)
    return np.asarray(p * (g + own * x) / denominator, dtype=np.float64)
