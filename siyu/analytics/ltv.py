"""Customer value: historical LTV by cohort, and predictive LTV (BG/NBD + Gamma-Gamma).

Pure functions over :class:`~siyu.analytics.order_history.PersonOrders`; money stays integer
fen (model expectations are rounded half up at the end).

* Historical: revenue and gross margin (revenue × the workspace's margin rate) per customer,
  by cohort of first-order month, with the cumulative revenue per customer at each month of
  age — the curve operators compare cohorts by.
* Predictive: the customer summary the models read — ``x`` repeat purchase days, ``t_x`` and
  ``T`` in days or weeks from the first purchase day, ``m`` the mean value of the repeat
  days — then P(alive), expected orders in the next N days, expected order value and CLV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from siyu.analytics import bgnbd
from siyu.analytics import gamma_gamma as gg
from siyu.analytics.order_history import OrderDays, PersonOrders

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7}


class LtvSettings(BaseModel):
    """A workspace's value settings."""

    margin_rate: Decimal = Field(
        default=Decimal("0.60"),
        ge=0,
        le=1,
        description="Gross margin as a share of revenue, used for margin LTV and CLV.",
    )


def fen(value: Decimal | float) -> int:
    """Round to whole fen, half up."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def margin_fen(revenue_fen: int, rate: Decimal) -> int:
    """Gross margin of a revenue in fen."""
    return fen(Decimal(revenue_fen) * rate)


# -- historical ------------------------------------------------------------------------


class CohortValue(BaseModel):
    """Value of the customers whose first order fell in one month."""

    cohort: str = Field(description="First-order month, YYYY-MM in the workspace's zone.")
    customers: int
    orders: int
    revenue_fen: int
    margin_fen: int
    revenue_per_customer_fen: int
    margin_per_customer_fen: int
    cumulative_revenue_per_customer_fen: list[int] = Field(
        description="Revenue per customer by the end of month 0, 1, 2… after the first order."
    )


class HistoricalLtv(BaseModel):
    """Revenue and gross margin per customer, overall and by cohort."""

    until: date = Field(description="Last local day of orders counted.")
    margin_rate: Decimal
    customers: int
    orders: int
    revenue_fen: int
    margin_fen: int
    revenue_per_customer_fen: int
    margin_per_customer_fen: int
    cohorts: list[CohortValue]


def _month_index(day_numbers: NDArray[np.int64]) -> NDArray[np.int64]:
    months = day_numbers.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype(np.int64)


def _month_label(month_index: int) -> str:
    return str(np.datetime64(int(month_index), "M"))


@dataclass(frozen=True)
class DayRows:
    """Per-day rows aligned with their person's first day (for cohort curves)."""

    first_day: NDArray[np.int64]
    day: NDArray[np.int64]
    revenue_fen: NDArray[np.int64]


def day_rows(rows: OrderDays, buyers: PersonOrders) -> DayRows:
    """Per-day rows with their person's first day (``buyers`` from the same rows)."""
    return DayRows(np.repeat(buyers.first_day, buyers.order_days), rows.day, rows.revenue_fen)


def _cohort(
    month: int,
    buyers: PersonOrders,
    mask: NDArray[np.bool_],
    rows: DayRows,
    until_month: int,
    rate: Decimal,
) -> CohortValue:
    n = int(mask.sum())
    revenue = int(buyers.revenue_fen[mask].sum())
    row_mask = _month_index(rows.first_day) == month
    age = _month_index(rows.day[row_mask]) - month
    by_age = np.bincount(age, weights=rows.revenue_fen[row_mask], minlength=until_month - month + 1)
    cumulative = np.cumsum(by_age)[: until_month - month + 1]
    return CohortValue(
        cohort=_month_label(month),
        customers=n,
        orders=int(buyers.orders[mask].sum()),
        revenue_fen=revenue,
        margin_fen=margin_fen(revenue, rate),
        revenue_per_customer_fen=fen(Decimal(revenue) / n),
        margin_per_customer_fen=fen(Decimal(revenue) * rate / n),
        cumulative_revenue_per_customer_fen=[fen(Decimal(int(v)) / n) for v in cumulative],
    )


def historical_ltv(
    buyers: PersonOrders, rows: DayRows, *, until: date, margin_rate: Decimal
) -> HistoricalLtv:
    """Revenue and margin per customer, by first-order month."""
    n = len(buyers.person)
    revenue = int(buyers.revenue_fen.sum())
    first_month = _month_index(buyers.first_day)
    until_month = int(np.datetime64(until, "M").astype(np.int64))
    cohorts = [
        _cohort(int(m), buyers, first_month == m, rows, until_month, margin_rate)
        for m in np.unique(first_month)
    ]
    return HistoricalLtv(
        until=until,
        margin_rate=margin_rate,
        customers=n,
        orders=int(buyers.orders.sum()),
        revenue_fen=revenue,
        margin_fen=margin_fen(revenue, margin_rate),
        revenue_per_customer_fen=fen(Decimal(revenue) / n) if n else 0,
        margin_per_customer_fen=fen(Decimal(revenue) * margin_rate / n) if n else 0,
        cohorts=cohorts,
    )


# -- predictive ------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSummary:
    """What BG/NBD and Gamma-Gamma read, one row per buyer."""

    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    big_t: NDArray[np.float64]
    m: NDArray[np.float64]
    mean_fen: NDArray[np.float64]


def customer_summary(buyers: PersonOrders, *, until_day: int, unit: TimeUnit) -> CustomerSummary:
    """x = repeat purchase days, t_x and T from the first purchase day (in ``unit``), and m
    = mean revenue of the repeat days (0 without repeats). ``until_day`` is the last day
    observed, so a customer first seen that day has T = 0."""
    scale = float(UNIT_DAYS[unit])
    x = (buyers.order_days - 1).astype(np.float64)
    repeat_revenue = (buyers.revenue_fen - buyers.first_day_revenue_fen).astype(np.float64)
    m = np.divide(repeat_revenue, x, out=np.zeros_like(x), where=x > 0)
    return CustomerSummary(
        x=x,
        t_x=(buyers.last_day - buyers.first_day) / scale,
        big_t=(until_day - buyers.first_day) / scale,
        m=m,
        mean_fen=buyers.revenue_fen / buyers.order_days.astype(np.float64),
    )


class LtvModel(BaseModel):
    """BG/NBD and Gamma-Gamma parameters fitted for a workspace."""

    until: date = Field(description="Last local day of the orders fitted on.")
    time_unit: TimeUnit
    customers: int
    repeat_customers: int
    r: float
    alpha: float
    a: float
    b: float
    p: float | None = Field(description="Gamma-Gamma p; null with too few repeat customers.")
    q: float | None
    gamma: float | None = Field(description="Gamma-Gamma γ, on the fen scale.")
    bgnbd_log_likelihood: float
    fitted_at: datetime
    seconds: float


def fit_models(
    summary: CustomerSummary, *, until: date, unit: TimeUnit, now: datetime, seconds: float = 0.0
) -> LtvModel:
    """Fit BG/NBD on every buyer and Gamma-Gamma on the repeat buyers (when two or more)."""
    purchases = bgnbd.fit(summary.x, summary.t_x, summary.big_t)
    repeat = int((summary.x > 0).sum())
    spend = gg.fit(summary.x, summary.m) if repeat >= 2 else None
    return LtvModel(
        until=until,
        time_unit=unit,
        customers=len(summary.x),
        repeat_customers=repeat,
        r=purchases.r,
        alpha=purchases.alpha,
        a=purchases.a,
        b=purchases.b,
        p=spend.p if spend else None,
        q=spend.q if spend else None,
        gamma=spend.gamma if spend else None,
        bgnbd_log_likelihood=bgnbd.log_likelihood(purchases, summary.x, summary.t_x, summary.big_t),
        fitted_at=now,
        seconds=seconds,
    )


@dataclass(frozen=True)
class Predictions:
    """Per-buyer predictions over a horizon."""

    p_alive: NDArray[np.float64]
    expected_orders: NDArray[np.float64]
    expected_value_fen: NDArray[np.float64]
    expected_revenue_fen: NDArray[np.float64]


def predict(model: LtvModel, summary: CustomerSummary, *, horizon_days: int) -> Predictions:
    """P(alive), expected orders in the next ``horizon_days`` and their expected value.

    Without a Gamma-Gamma fit the expected value per purchase day is the customer's own mean
    (first purchase included)."""
    params = bgnbd.BGNBDParams(r=model.r, alpha=model.alpha, a=model.a, b=model.b)
    t = horizon_days / UNIT_DAYS[model.time_unit]
    alive = bgnbd.p_alive(params, summary.x, summary.t_x, summary.big_t)
    orders = bgnbd.expected_purchases(params, t, summary.x, summary.t_x, summary.big_t)
    if model.p is not None and model.q is not None and model.gamma is not None and model.q > 1:
        spend = gg.GammaGammaParams(p=model.p, q=model.q, gamma=model.gamma)
        value = gg.expected_value(spend, summary.x, summary.m)
    else:
        value = summary.mean_fen
    return Predictions(alive, orders, value, orders * value)
