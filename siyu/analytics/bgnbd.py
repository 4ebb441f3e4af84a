"""The BG/NBD purchase model (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

A customer buys at a Poisson rate λ ~ Gamma(r, α) while alive, and after each purchase
drops out with probability p ~ Beta(a, b). From one customer's repeat purchases ``x``, the
time of the last one ``t_x`` and the length of observation ``T`` (all measured from the
first purchase, in one time unit) the model gives the likelihood (FHL 2005, eq. 6)::

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + [x > 0] · B(a+1, b+x-1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

which is implemented here from the paper, with its analytic gradient so L-BFGS converges in
a few dozen steps, together with P(alive) (eq. 11) and the expected purchases in the next
``t`` units (eq. 10). Everything is vectorised over customers; identical (x, t_x, T) rows may
be collapsed into ``weights``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from siyu.core.errors import InvalidInputError

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters: Gamma(r, α) purchase rates, Beta(a, b) dropout."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> Array:
        """The parameters as ``[r, alpha, a, b]``."""
        return np.array([self.r, self.alpha, self.a, self.b])


def _terms(theta: Array, x: Array, t_x: Array, big_t: Array) -> tuple[Array, Array, Array, Array]:
    r, alpha, a, b = theta
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    # For x = 0 the second term is absent: -inf makes logaddexp ignore it.
    safe_bx = np.where(repeat, b + x - 1.0, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(safe_bx) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1, a2, a3, a4


def log_likelihood(
    params: BGNBDParams, x: Array, t_x: Array, big_t: Array, weights: Array | None = None
) -> float:
    """Sum of the customers' log-likelihoods under ``params``."""
    a1, a2, a3, a4 = _terms(params.as_array(), x, t_x, big_t)
    each = a1 + a2 + np.logaddexp(a3, a4)
    return float(np.sum(each if weights is None else each * weights))


def _negative_ll_and_gradient(
    log_theta: Array, x: Array, t_x: Array, big_t: Array, weights: Array
) -> tuple[float, Array]:
    theta = np.exp(log_theta)
    r, alpha, a, b = theta
    a1, a2, a3, a4 = _terms(theta, x, t_x, big_t)
    mix = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - mix)  # share of the "still alive at T" term
    w4 = 1.0 - w3  # share of the "dropped out after t_x" term (0 when x = 0)
    repeat = x > 0
    safe_bx = np.where(repeat, b + x - 1.0, 1.0)
    log_at = np.log(alpha + big_t)
    log_atx = np.log(alpha + t_x)
    d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + big_t) + w4 / (alpha + t_x))
    psi_ab = special.digamma(a + b) - special.digamma(a + b + x)
    d_a = psi_ab + w4 / a
    d_b = psi_ab + special.digamma(b + x) - special.digamma(b) - np.where(repeat, w4 / safe_bx, 0.0)
    # Multiply-and-sum, not ``@``: BLAS threads cost more than they save on these sizes.
    grad = np.array([np.sum(w * weights) for w in (d_r, d_alpha, d_a, d_b)]) * theta
    total = float(np.sum((a1 + a2 + mix) * weights))
    return -total, -grad


def summary_arrays(
    x: Array | list[float], t_x: Array | list[float], big_t: Array | list[float]
) -> tuple[Array, Array, Array]:
    """Validated float arrays of repeat purchases, recency and age."""
    xs, txs, ts = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    if not (xs.shape == txs.shape == ts.shape) or xs.ndim != 1:
        raise InvalidInputError("x, t_x and T must be 1-d arrays of one length", field="x")
    if np.any(xs < 0) or np.any(txs < 0) or np.any(txs > ts + 1e-9):
        raise InvalidInputError("need x >= 0 and 0 <= t_x <= T for every customer", field="t_x")
    if np.any((xs == 0) & (txs != 0)):
        raise InvalidInputError("a customer without repeat purchases has t_x = 0", field="t_x")
    return xs, txs, ts


def collapse(x: Array, t_x: Array, big_t: Array) -> tuple[Array, Array, Array, Array]:
    """Identical (x, t_x, T) rows merged, with their counts as weights (a faster fit)."""
    stacked = np.stack([x, t_x, big_t], axis=1)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], counts.astype(np.float64)


def fit(
    x: Array | list[float],
    t_x: Array | list[float],
    big_t: Array | list[float],
    *,
    initial: BGNBDParams | None = None,
) -> BGNBDParams:
    """Maximum-likelihood BG/NBD parameters for customers (x, t_x, T).

    Raises:
        InvalidInputError: inconsistent arrays, or no customer with a repeat purchase
            (the dropout process is then not identified).
    """
    xs, txs, ts = summary_arrays(x, t_x, big_t)
    if not np.any(xs > 0):
        raise InvalidInputError("no customer has a repeat purchase; cannot fit BG/NBD", field="x")
    ux, utx, ut, weights = collapse(xs, txs, ts)
    # Start at α on the scale of the observation period, as the authors' spreadsheet does.
    start = initial or BGNBDParams(1.0, max(float(np.mean(ts)), 1.0), 1.0, 1.0)
    result = optimize.minimize(
        _negative_ll_and_gradient,
        np.log(start.as_array()),
        args=(ux, utx, ut, weights),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-20.0, 20.0)] * 4,
        options={"maxiter": 1000, "gtol": 1e-9, "ftol": 1e-14},
    )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BGNBDParams(r=r, alpha=alpha, a=a, b=b)


def p_alive(params: BGNBDParams, x: Array, t_x: Array, big_t: Array) -> Array:
    """P(still a customer at T | x, t_x, T) (FHL 2005, eq. 11); 1 without repeat purchases."""
    r, alpha, a, b = params.as_array()
    repeat = x > 0
    safe_bx = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(safe_bx) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    return np.where(repeat, 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700.0))), 1.0)


def expected_purchases(params: BGNBDParams, t: float, x: Array, t_x: Array, big_t: Array) -> Array:
    """E[purchases in the next ``t`` units | x, t_x, T] (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.as_array()
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + big_t + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    ratio = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t)))
    first = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ratio * hyp)
    repeat = x > 0
    safe_bx = np.where(repeat, b + x - 1.0, 1.0)
    odds = np.where(
        repeat,
        np.exp(
            np.minimum(
                np.log(a)
                - np.log(safe_bx)
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x)),
                700.0,
            )
        ),
        0.0,
    )
    return np.asarray(first / (1.0 + odds), dtype=np.float64)


def expected_purchases_new(params: BGNBDParams, t: float) -> float:
    """E[purchases in ``t`` units] of a customer just acquired (FHL 2005, eq. 7)."""
    r, alpha, a, b = params.as_array()
    z = t / (alpha + t)
    hyp = special.hyp2f1(r, b, a + b - 1.0, z)
    return float((a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp))


def simulate(
    params: BGNBDParams, customers: int, big_t: float, *, seed: int = 0
) -> tuple[Array, Array, Array]:
    """Draw (x, t_x, T) for ``customers`` observed for ``big_t`` units after a first purchase.

    Each customer draws λ and p, then purchases at exponential gaps; after each repeat
    purchase a coin with probability p ends the customer's life (the first purchase starts
    the clock and cannot end it, as in the model's definition).
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, customers)
    # A Beta draw can underflow to 0 for small a; geometric() needs p > 0.
    drop = np.clip(rng.beta(params.a, params.b, customers), 1e-12, 1.0)
    # Lifetime in purchases: geometric; the customer dies right after their k-th repeat.
    lives = rng.geometric(drop)  # ≥ 1: the repeat purchase after which they drop out
    x = np.zeros(customers)
    t_x = np.zeros(customers)
    clock = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    while np.any(active):
        idx = np.nonzero(active)[0]
        clock[idx] += rng.exponential(1.0 / lam[idx])
        within = clock[idx] <= big_t
        bought = idx[within]
        x[bought] += 1
        t_x[bought] = clock[bought]
        active[idx[~within]] = False
        active[bought[x[bought] >= lives[bought]]] = False
    return x, t_x, np.full(customers, float(big_t))
