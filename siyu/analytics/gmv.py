"""GMV decomposition: which factor — traffic, conversion, frequency, AOV — moved GMV.

GMV = traffic × conversion × frequency × AOV, where traffic is the active visitors,
conversion = buyers / visitors, frequency = orders / buyers and AOV = GMV / orders (fen).

Method. When every factor is positive in both periods we use LMDI-I (logarithmic mean
Divisia index, Ang 2004): factor ``k`` contributes ``L(G1, G0) * ln(x1_k / x0_k)`` with
``L(a, b) = (a - b) / (ln a - ln b)`` (and ``L(a, a) = a``). Because
``sum_k ln(x1_k / x0_k) = ln(G1 / G0)``, the contributions add up to ``G1 - G0`` with no
residual, whatever the order of the factors. LMDI is undefined at zero (a period with no
orders), so there we fall back to the Shapley split: each factor's contribution is its
average marginal effect over every order of switching factors from before to after — also
exact and order-free. Contributions are finally rounded to whole fen by largest remainder,
so they sum *exactly* to ΔGMV in fen.

A segmented GMV (new vs repeat buyers, referred vs organic) is decomposed segment by
segment with the shared traffic: ``G = sum_s V * (B_s/V) * (O_s/B_s) * (G_s/O_s)``; the
segments' contributions add to the total change too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import partial
from itertools import combinations

import pyarrow as pa
from pydantic import BaseModel, Field

from siyu.analytics.engine import Dialect, Engine, sql_literal
from siyu.analytics.periods import Period

FACTORS: tuple[str, ...] = ("traffic", "conversion", "frequency", "aov")


def factor_values(visitors: int, buyers: int, orders: int, gmv_fen: int) -> tuple[float, ...]:
    """(traffic, conversion, frequency, AOV); a ratio with a zero denominator is 0."""
    return (
        float(visitors),
        buyers / visitors if visitors else 0.0,
        orders / buyers if buyers else 0.0,
        gmv_fen / orders if orders else 0.0,
    )


def _log_mean(a: float, b: float) -> float:
    if math.isclose(a, b, rel_tol=1e-15):
        return a
    return (a - b) / (math.log(a) - math.log(b))


def lmdi(before: Sequence[float], after: Sequence[float]) -> list[float]:
    """LMDI-I contributions of each factor (all factors must be positive)."""
    g0, g1 = math.prod(before), math.prod(after)
    weight = _log_mean(g1, g0)
    return [weight * math.log(x1 / x0) for x0, x1 in zip(before, after, strict=True)]


def shapley(before: Sequence[float], after: Sequence[float]) -> list[float]:
    """Shapley contributions of each factor to ``prod(after) - prod(before)`` (any values).

    Computed in exact rational arithmetic: the marginal products can be far larger than
    the change itself, and floats would lose the change to cancellation.
    """
    n = len(before)
    x0, x1 = [Fraction(v) for v in before], [Fraction(v) for v in after]

    def value(switched: frozenset[int]) -> Fraction:
        return math.prod((x1[i] if i in switched else x0[i] for i in range(n)), start=Fraction(1))

    contributions = []
    for k in range(n):
        others = [i for i in range(n) if i != k]
        total = Fraction(0)
        for size in range(n):
            weight = Fraction(
                math.factorial(size) * math.factorial(n - size - 1), math.factorial(n)
            )
            for subset in combinations(others, size):
                s = frozenset(subset)
                total += weight * (value(s | {k}) - value(s))
        contributions.append(float(total))
    return contributions


def contributions(before: Sequence[float], after: Sequence[float]) -> tuple[list[float], str]:
    """Each factor's contribution to the change of the product, and the method used."""
    if all(x > 0 for x in before) and all(x > 0 for x in after):
        return lmdi(before, after), "lmdi"
    return shapley(before, after), "shapley"


def round_to_total(values: Sequence[float], total: int) -> list[int]:
    """Whole numbers near ``values`` that sum exactly to ``total`` (largest remainder)."""
    floors = [math.floor(v) for v in values]
    left = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (floors[i] - values[i], i))
    step = 1 if left >= 0 else -1
    if step < 0:  # take back from the smallest fractional parts first
        order = order[::-1]
    for i in range(abs(left)):
        floors[order[i % len(order)]] += step
    return floors


def decompose_fen(
    before: Mapping[str, int], after: Mapping[str, int]
) -> tuple[dict[str, int], str]:
    """Whole-fen contribution per factor to ``after.gmv - before.gmv``, and the method.

    ``before`` and ``after`` hold ``visitors``, ``buyers``, ``orders`` and ``gmv_fen``.
    """
    x0 = factor_values(before["visitors"], before["buyers"], before["orders"], before["gmv_fen"])
    x1 = factor_values(after["visitors"], after["buyers"], after["orders"], after["gmv_fen"])
    raw, method = contributions(x0, x1)
    rounded = round_to_total(raw, after["gmv_fen"] - before["gmv_fen"])
    return dict(zip(FACTORS, rounded, strict=True)), method


# -- the query ---------------------------------------------------------------------------

ORDER_EVENT = "Order Completed"
REFERRAL_EVENT = "Referral Accepted"


class GmvQuery(BaseModel):
    """GMV of a period against a comparison period, decomposed."""

    period: Period
    compare_to: Period | None = Field(
        default=None, description="Comparison period; default the same length just before."
    )
    order_event: str = Field(default=ORDER_EVENT, description="The event that is an order.")
    referral_event: str = Field(
        default=REFERRAL_EVENT, description="The event a referred person sends when referred."
    )

    @property
    def baseline(self) -> Period:
        """The comparison period."""
        return self.compare_to or self.period.previous()


def _in_range(period: Period, dialect: Dialect) -> str:
    start, end = sql_literal(period.start, dialect), sql_literal(period.end, dialect)
    return f"timestamp >= {start} AND timestamp < {end}"


def _period_sql(query: GmvQuery, period: Period, label: str, dialect: Dialect) -> str:
    lit = partial(sql_literal, dialect=dialect)
    order, referral = lit(query.order_event), lit(query.referral_event)
    start, end = lit(period.start), lit(period.end)
    return f"""SELECT {lit(label)} AS period, '*' AS buyer_type, '*' AS referral,
    CAST(count(DISTINCT person_id) AS BIGINT) AS persons,
    CAST(0 AS BIGINT) AS orders, CAST(0 AS BIGINT) AS gmv_fen
FROM events WHERE person_id IS NOT NULL AND {_in_range(period, dialect)}
UNION ALL
SELECT {lit(label)} AS period, buyer_type, referral, CAST(count(*) AS BIGINT) AS persons,
    CAST(sum(n_orders) AS BIGINT) AS orders, CAST(sum(fen) AS BIGINT) AS gmv_fen
FROM (
    SELECT person_id,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = {order} AND timestamp < {start}) THEN 'repeat' ELSE 'new' END
            AS buyer_type,
        CASE WHEN person_id IN (SELECT person_id FROM events
            WHERE event = {referral} AND timestamp < {end}) THEN 'referred' ELSE 'organic' END
            AS referral,
        count(*) AS n_orders, sum(coalesce(revenue_fen, 0)) AS fen
    FROM events
    WHERE event = {order} AND person_id IS NOT NULL AND {_in_range(period, dialect)}
    GROUP BY person_id
) AS buyers
GROUP BY buyer_type, referral"""


def to_sql(query: GmvQuery, dialect: Dialect) -> str:
    """SQL answering rows (period, buyer_type, referral, persons, orders, gmv_fen).

    ``buyer_type = '*'`` rows hold the period's active visitors in ``persons``; the others
    hold buyers, orders and GMV per (new | repeat) × (referred | organic). A buyer is new
    when they had no order before the period; referred when they sent the referral event
    before the period ended.
    """
    current = _period_sql(query, query.period, "current", dialect)
    previous = _period_sql(query, query.baseline, "previous", dialect)
    # ClickHouse binds a trailing ORDER BY to the last SELECT of a UNION: wrap it.
    return (
        f"SELECT * FROM (\n{current}\nUNION ALL\n{previous}\n) AS parts\n"
        "ORDER BY period, buyer_type, referral"
    )


# -- the result --------------------------------------------------------------------------


class GmvTotals(BaseModel):
    """GMV of one period and its four factors."""

    visitors: int = Field(description="Active visitors: persons with any event in the period.")
    buyers: int = Field(description="Persons with at least one order in the period.")
    orders: int
    gmv_fen: int = Field(description="Order revenue in the period (fen).")
    conversion: float = Field(description="buyers / visitors.")
    orders_per_buyer: float = Field(description="orders / buyers (purchase frequency).")
    aov_fen: float = Field(description="Average order value, gmv / orders (fen).")


class FactorChange(BaseModel):
    """One factor in both periods and its share of the GMV change."""

    factor: str = Field(description="traffic, conversion, frequency or aov.")
    before: float
    after: float
    change_pct: float | None = Field(description="Relative change in %; null from zero.")
    contribution_fen: int = Field(description="Part of the GMV change this factor explains.")


class SegmentChange(BaseModel):
    """One buyer segment's GMV in both periods, decomposed like the total."""

    segment: str = Field(description="new | repeat, or referred | organic.")
    before: GmvTotals
    after: GmvTotals
    change_fen: int
    share_after: float = Field(description="Share of the period's GMV, 0–1.")
    factors: list[FactorChange]


class GmvDecomposition(BaseModel):
    """GMV = traffic × conversion × frequency × AOV, period over period.

    The factor contributions sum exactly to ``change_fen`` (see :mod:`siyu.analytics.gmv`).
    """

    period: Period
    compare_to: Period
    current: GmvTotals
    previous: GmvTotals
    change_fen: int
    change_pct: float | None
    method: str = Field(description="lmdi (log-mean Divisia) or shapley (when a factor is 0).")
    factors: list[FactorChange]
    driver: str | None = Field(description="The factor with the largest absolute contribution.")
    buyer_types: list[SegmentChange] = Field(description="New vs repeat buyers.")
    referral: list[SegmentChange] = Field(description="Referred vs organic buyers.")


def _totals(visitors: int, buyers: int, orders: int, gmv_fen: int) -> GmvTotals:
    _, conversion, frequency, aov = factor_values(visitors, buyers, orders, gmv_fen)
    return GmvTotals(
        visitors=visitors,
        buyers=buyers,
        orders=orders,
        gmv_fen=gmv_fen,
        conversion=conversion,
        orders_per_buyer=frequency,
        aov_fen=aov,
    )


def _pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / before * 100


def _factors(before: GmvTotals, after: GmvTotals) -> tuple[list[FactorChange], str]:
    parts, method = decompose_fen(before.model_dump(), after.model_dump())
    x0 = factor_values(before.visitors, before.buyers, before.orders, before.gmv_fen)
    x1 = factor_values(after.visitors, after.buyers, after.orders, after.gmv_fen)
    changes = [
        FactorChange(factor=f, before=b, after=a, change_pct=_pct(b, a), contribution_fen=parts[f])
        for f, b, a in zip(FACTORS, x0, x1, strict=True)
    ]
    return changes, method


Sums = dict[tuple[str, str, str], tuple[int, int, int]]


def _sums(rows: pa.Table) -> Sums:
    found: Sums = {}
    for r in rows.to_pylist():
        key = (r["period"], r["buyer_type"], r["referral"])
        found[key] = (int(r["persons"]), int(r["orders"] or 0), int(r["gmv_fen"] or 0))
    return found


def _segment_totals(sums: Sums, period: str, **only: str) -> GmvTotals:
    """Totals of ``period`` over the rows matching ``only`` (buyer_type=…, referral=…)."""
    visitors = sums.get((period, "*", "*"), (0, 0, 0))[0]
    picked = [
        value
        for (p, buyer_type, referral), value in sums.items()
        if p == period
        and buyer_type != "*"
        and only.get("buyer_type", buyer_type) == buyer_type
        and only.get("referral", referral) == referral
    ]
    return _totals(
        visitors,
        sum(v[0] for v in picked),
        sum(v[1] for v in picked),
        sum(v[2] for v in picked),
    )


def _segment(sums: Sums, **only: str) -> SegmentChange:
    before = _segment_totals(sums, "previous", **only)
    after = _segment_totals(sums, "current", **only)
    total_after = _segment_totals(sums, "current").gmv_fen
    factors, _ = _factors(before, after)
    return SegmentChange(
        segment=next(iter(only.values())),
        before=before,
        after=after,
        change_fen=after.gmv_fen - before.gmv_fen,
        share_after=after.gmv_fen / total_after if total_after else 0.0,
        factors=factors,
    )


def decomposition_of(query: GmvQuery, rows: pa.Table) -> GmvDecomposition:
    """The decomposition from the rows :func:`to_sql` answers."""
    sums = _sums(rows)
    current = _segment_totals(sums, "current")
    previous = _segment_totals(sums, "previous")
    factors, method = _factors(previous, current)
    moved = [f for f in factors if f.contribution_fen != 0]
    driver = max(moved, key=lambda f: abs(f.contribution_fen)).factor if moved else None
    return GmvDecomposition(
        period=query.period,
        compare_to=query.baseline,
        current=current,
        previous=previous,
        change_fen=current.gmv_fen - previous.gmv_fen,
        change_pct=_pct(previous.gmv_fen, current.gmv_fen),
        method=method,
        factors=factors,
        driver=driver,
        buyer_types=[_segment(sums, buyer_type=kind) for kind in ("new", "repeat")],
        referral=[_segment(sums, referral=kind) for kind in ("referred", "organic")],
    )


def run_gmv(
    engine: Engine,
    *,
    workspace_id: str,
    query: GmvQuery,
    person_map: Sequence[tuple[str, str]] = (),
) -> GmvDecomposition:
    """Compile ``query`` for the engine's dialect, run it, and decompose."""
    rows = engine.run(
        workspace_id=workspace_id, sql=to_sql(query, engine.dialect), person_map=person_map
    )
    return decomposition_of(query, rows)
