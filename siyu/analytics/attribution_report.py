"""Attribution over the event store: orders and touches → credit per channel.

One query reads the period's orders and every touch (an event with a channel) from
``lookback`` before the period to its end; the paths are assembled per person in Python
and credited with :mod:`siyu.analytics.attribution`. Per person, the touches within the
lookback before an order form that order's path; touches after a person's last order in
the period (or of a person who did not order) form a path that ended without conversion —
the Markov chain needs those, the other models ignore them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import partial

import pyarrow as pa
from pydantic import BaseModel, Field

from siyu.analytics.attribution import (
    AttributionModel,
    Path,
    Touch,
    markov_removal_effects,
    order_credit,
    split_fen,
)
from siyu.analytics.engine import Dialect, Engine, sql_literal
from siyu.analytics.gmv import ORDER_EVENT
from siyu.analytics.periods import Period

DAY_SECONDS = 86_400


class TouchKey(StrEnum):
    """What a touch is credited to."""

    CHANNEL = "channel"
    CAMPAIGN = "campaign"


class AttributionQuery(BaseModel):
    """Which orders to attribute, to what, and how."""

    period: Period
    model: AttributionModel = Field(default=AttributionModel.LAST_TOUCH)
    lookback_days: int = Field(
        default=30, ge=1, le=365, description="Touches count this many days before an order."
    )
    half_life_days: float = Field(
        default=7.0, gt=0, le=365, description="Time decay: a touch this old weighs half."
    )
    by: TouchKey = Field(
        default=TouchKey.CHANNEL, description="Credit channels, or channel / campaign pairs."
    )
    order_event: str = Field(default=ORDER_EVENT, description="The event that is an order.")


def to_sql(query: AttributionQuery, dialect: Dialect) -> str:
    """SQL answering (kind, person_id, ts, label, revenue_fen) rows, in person/time order.

    ``kind = 'order'`` rows carry the order's message id as ``label``; ``kind = 'touch'``
    rows carry the channel (or ``channel / campaign``).
    """
    lit = partial(sql_literal, dialect=dialect)
    touches_from = query.period.start - timedelta(days=query.lookback_days)
    key = (
        "channel"
        if query.by is TouchKey.CHANNEL
        else "CASE WHEN coalesce(campaign, '') = '' THEN channel "
        "ELSE concat(channel, ' / ', campaign) END"
    )
    end = lit(query.period.end)
    return f"""SELECT * FROM (
SELECT 'order' AS kind, person_id, timestamp AS ts, message_id AS label,
    CAST(coalesce(revenue_fen, 0) AS BIGINT) AS revenue_fen
FROM events
WHERE event = {lit(query.order_event)} AND person_id IS NOT NULL
    AND timestamp >= {lit(query.period.start)} AND timestamp < {end}
UNION ALL
SELECT 'touch' AS kind, person_id, timestamp AS ts, {key} AS label,
    CAST(0 AS BIGINT) AS revenue_fen
FROM events
WHERE channel IS NOT NULL AND channel <> '' AND person_id IS NOT NULL
    AND timestamp >= {lit(touches_from)} AND timestamp < {end}
) AS paths
ORDER BY person_id, ts, kind, label"""


# -- assembling paths --------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """One order and the touches within the lookback before it (oldest first)."""

    order_id: str
    person_id: str
    at: datetime
    revenue_fen: int
    touches: tuple[Touch, ...]


@dataclass
class Journeys:
    """The period's orders with their paths, and the paths that ended without an order."""

    orders: list[Order]
    lost: list[Path]


def _person_journeys(
    person: str,
    orders: list[tuple[datetime, str, int]],
    touches: list[tuple[datetime, str]],
    lookback: timedelta,
    since: datetime,
    into: Journeys,
) -> None:
    times = [t for t, _ in touches]
    for at, order_id, fen in orders:
        first = bisect_left(times, at - lookback)
        last = bisect_right(times, at)
        path = tuple(
            Touch(channel, (at - when).total_seconds()) for when, channel in touches[first:last]
        )
        into.orders.append(Order(order_id, person, at, fen, path))
    # Touches after the last order (within the period) led nowhere — so far.
    after = bisect_right(times, orders[-1][0]) if orders else bisect_left(times, since)
    tail = tuple(channel for _, channel in touches[after:])
    if tail:
        into.lost.append(tail)


def journeys_of(rows: pa.Table, lookback: timedelta, since: datetime) -> Journeys:
    """Orders with their paths and the non-converting paths, from :func:`to_sql` rows."""
    orders: dict[str, list[tuple[datetime, str, int]]] = defaultdict(list)
    touches: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    columns = rows.to_pydict()
    for kind, person, at, key, fen in zip(
        columns["kind"],
        columns["person_id"],
        columns["ts"],
        columns["label"],
        columns["revenue_fen"],
        strict=True,
    ):
        if kind == "order":
            orders[person].append((at, key, int(fen)))
        else:
            touches[person].append((at, key))
    found = Journeys([], [])
    for person in sorted(orders.keys() | touches.keys()):
        mine = sorted(orders.get(person, []))
        _person_journeys(person, mine, sorted(touches.get(person, [])), lookback, since, found)
    return found


# -- crediting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderCredit:
    """A channel's share of one order: its credit (0–1) and its fen of the revenue."""

    day: date
    channel: str
    credit: float
    revenue_fen: int


def removal_effects_of(journeys: Journeys) -> dict[str, float]:
    """Markov removal effects over the converting and non-converting paths."""
    paths: list[tuple[Path, bool]] = [
        (tuple(t.channel for t in o.touches), True) for o in journeys.orders
    ]
    paths.extend((path, False) for path in journeys.lost)
    return markov_removal_effects(paths)


def credit_orders(
    journeys: Journeys, query: AttributionQuery
) -> tuple[list[OrderCredit], dict[str, float]]:
    """Each order's credit per channel (and fen), and the removal effects for Markov."""
    effects = removal_effects_of(journeys) if query.model is AttributionModel.MARKOV else {}
    half_life = query.half_life_days * DAY_SECONDS
    credits: list[OrderCredit] = []
    for order in journeys.orders:
        shares = order_credit(
            order.touches, query.model, half_life_seconds=half_life, removal_effects=effects
        )
        fen = split_fen(order.revenue_fen, shares)
        day = query.period.day_of(order.at)
        credits.extend(OrderCredit(day, c, w, fen.get(c, 0)) for c, w in shares.items())
    return credits, effects


# -- the result --------------------------------------------------------------------------


class ChannelCredit(BaseModel):
    """What one channel (or channel / campaign) is credited with."""

    channel: str
    conversions: float = Field(description="Orders credited (fractions under shared models).")
    revenue_fen: int = Field(description="Attributed GMV (fen).")
    share: float = Field(description="Share of the period's orders, 0–1.")
    removal_effect: float | None = Field(
        default=None, description="Markov: share of conversions lost without this channel."
    )


class AttributionResult(BaseModel):
    """Orders of a period credited to channels under one model."""

    query: AttributionQuery
    orders: int
    revenue_fen: int
    direct_orders: int = Field(description="Orders with no touch in the lookback window.")
    channels: list[ChannelCredit] = Field(description="Most attributed GMV first.")


def result_of(
    query: AttributionQuery,
    journeys: Journeys,
    credits: Sequence[OrderCredit],
    effects: dict[str, float],
) -> AttributionResult:
    """Sum the per-order credits per channel."""
    conversions: dict[str, float] = defaultdict(float)
    revenue: dict[str, int] = defaultdict(int)
    for c in credits:
        conversions[c.channel] += c.credit
        revenue[c.channel] += c.revenue_fen
    total = len(journeys.orders)
    channels = [
        ChannelCredit(
            channel=name,
            conversions=round(conversions[name], 9),
            revenue_fen=revenue[name],
            share=conversions[name] / total if total else 0.0,
            removal_effect=effects.get(name) if query.model is AttributionModel.MARKOV else None,
        )
        for name in conversions
    ]
    channels.sort(key=lambda c: (-c.revenue_fen, -c.conversions, c.channel))
    return AttributionResult(
        query=query,
        orders=total,
        revenue_fen=sum(o.revenue_fen for o in journeys.orders),
        direct_orders=sum(1 for o in journeys.orders if not o.touches),
        channels=channels,
    )


def run_attribution(
    engine: Engine,
    *,
    workspace_id: str,
    query: AttributionQuery,
    person_map: Sequence[tuple[str, str]] = (),
) -> tuple[AttributionResult, list[OrderCredit]]:
    """Run the query on ``engine``; the result and the per-order credits (for ROI)."""
    rows = engine.run(
        workspace_id=workspace_id, sql=to_sql(query, engine.dialect), person_map=person_map
    )
    journeys = journeys_of(rows, timedelta(days=query.lookback_days), query.period.start)
    credits, effects = credit_orders(journeys, query)
    return result_of(query, journeys, credits, effects), credits
