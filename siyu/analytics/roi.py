"""Channel returns: spend against new buyers (CAC) and attributed GMV (ROI, ROAS, payback).

Definitions are in :mod:`siyu.analytics.spend`. The attributed GMV of the period comes from
:func:`~siyu.analytics.attribution_report.run_attribution` under the chosen model; payback
runs the same attribution over ``payback_horizon_days`` from the period's first day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from functools import partial

from pydantic import BaseModel, Field

from siyu.analytics.attribution import DIRECT, AttributionModel
from siyu.analytics.attribution_report import (
    AttributionQuery,
    ChannelCredit,
    OrderCredit,
    TouchKey,
    run_attribution,
)
from siyu.analytics.engine import Dialect, Engine, sql_literal
from siyu.analytics.gmv import ORDER_EVENT
from siyu.analytics.periods import Period
from siyu.analytics.spend import SpendEntry, cac, payback_days, roas, roi


class RoiQuery(BaseModel):
    """Returns on channel spend over a period."""

    period: Period
    model: AttributionModel = Field(default=AttributionModel.LAST_TOUCH)
    lookback_days: int = Field(default=30, ge=1, le=365)
    half_life_days: float = Field(default=7.0, gt=0, le=365)
    by: TouchKey = Field(default=TouchKey.CHANNEL)
    payback_horizon_days: int = Field(
        default=180, ge=1, le=1095, description="How far payback looks from the first day."
    )
    order_event: str = Field(default=ORDER_EVENT)

    def attribution(self, period: Period | None = None) -> AttributionQuery:
        """The attribution query for ``period`` (default the query's)."""
        return AttributionQuery(
            period=period or self.period,
            model=self.model,
            lookback_days=self.lookback_days,
            half_life_days=self.half_life_days,
            by=self.by,
            order_event=self.order_event,
        )


def new_buyers_sql(query: RoiQuery, dialect: Dialect) -> str:
    """SQL answering (channel, new_buyers): persons whose first order is in the period, by the
    first channel that touched them at or before it (``(direct)`` when none did)."""
    lit = partial(sql_literal, dialect=dialect)
    label = (
        "t.channel"
        if query.by is TouchKey.CHANNEL
        else "CASE WHEN coalesce(t.campaign, '') = '' THEN t.channel "
        "ELSE concat(t.channel, ' / ', t.campaign) END"
    )
    return f"""WITH firsts AS (
    SELECT person_id, min(timestamp) AS first_order FROM events
    WHERE event = {lit(query.order_event)} AND person_id IS NOT NULL GROUP BY person_id
), new_buyers AS (
    SELECT person_id, first_order FROM firsts
    WHERE first_order >= {lit(query.period.start)} AND first_order < {lit(query.period.end)}
), touches AS (
    SELECT t.person_id AS person_id, t.timestamp AS ts, {label} AS channel
    FROM events AS t JOIN new_buyers AS n ON n.person_id = t.person_id
    WHERE t.channel IS NOT NULL AND t.channel <> '' AND t.timestamp <= n.first_order
), first_touch AS (
    SELECT person_id, min(ts) AS ts FROM touches GROUP BY person_id
), acquired AS (
    SELECT t.person_id AS person_id, min(t.channel) AS channel
    FROM touches AS t JOIN first_touch AS f ON f.person_id = t.person_id AND f.ts = t.ts
    GROUP BY t.person_id
)
SELECT * FROM (
    SELECT channel, CAST(count(*) AS BIGINT) AS new_buyers FROM acquired GROUP BY channel
    UNION ALL
    SELECT {lit(DIRECT)} AS channel, CAST(count(*) AS BIGINT) AS new_buyers FROM new_buyers
    WHERE person_id NOT IN (SELECT person_id FROM acquired)
) AS counted
WHERE new_buyers > 0
ORDER BY channel"""


class ChannelReturn(BaseModel):
    """One channel's spend and what it brought."""

    channel: str
    spend_fen: int
    attributed_orders: float
    attributed_revenue_fen: int = Field(description="GMV attributed under the model (fen).")
    new_buyers: int = Field(description="First-time buyers the channel acquired.")
    cac_fen: float | None = Field(description="spend / new buyers (fen).")
    roi: float | None = Field(description="(attributed GMV − spend) / spend.")
    roas: float | None = Field(description="attributed GMV / spend (投产比).")
    payback_days: int | None = Field(
        description="Days from the first day until attributed GMV covers the spend."
    )


class RoiResult(BaseModel):
    """Returns per channel and in total."""

    query: RoiQuery
    spend_fen: int
    attributed_revenue_fen: int = Field(description="All GMV of the period's orders (fen).")
    paid_revenue_fen: int = Field(description="GMV attributed to channels with spend (fen).")
    new_buyers: int = Field(description="First-time buyers of the period, all channels.")
    roi: float | None = Field(description="Over channels with spend.")
    roas: float | None = Field(description="Over channels with spend.")
    cac_fen: float | None = Field(description="Spend / new buyers of channels with spend.")
    channels: list[ChannelReturn] = Field(description="Most spend first, then most revenue.")


def spend_by_key(entries: Sequence[SpendEntry], query: RoiQuery) -> dict[str, int]:
    """Spend within the period per channel (or channel / campaign)."""
    found: dict[str, int] = defaultdict(int)
    for e in entries:
        if query.period.first_day <= e.day <= query.period.last_day:
            by_campaign = query.by is TouchKey.CAMPAIGN and e.campaign
            found[f"{e.channel} / {e.campaign}" if by_campaign else e.channel] += e.spend_fen
    return found


def _daily(credits: Sequence[OrderCredit]) -> dict[str, list[tuple[date, int]]]:
    by_channel: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for c in credits:
        by_channel[c.channel][c.day] += c.revenue_fen
    return {k: sorted(v.items()) for k, v in by_channel.items()}


def _new_buyers(
    engine: Engine, workspace_id: str, query: RoiQuery, person_map: Sequence[tuple[str, str]]
) -> dict[str, int]:
    sql = new_buyers_sql(query, engine.dialect)
    rows = engine.run(workspace_id=workspace_id, sql=sql, person_map=person_map).to_pylist()
    return {r["channel"]: int(r["new_buyers"]) for r in rows}


def _channel_return(
    name: str,
    spend_fen: int,
    credit: ChannelCredit | None,
    new_buyers: int,
    first_day: date,
    daily: list[tuple[date, int]],
) -> ChannelReturn:
    revenue = credit.revenue_fen if credit else 0
    return ChannelReturn(
        channel=name,
        spend_fen=spend_fen,
        attributed_orders=credit.conversions if credit else 0.0,
        attributed_revenue_fen=revenue,
        new_buyers=new_buyers,
        cac_fen=cac(spend_fen, new_buyers),
        roi=roi(spend_fen, revenue),
        roas=roas(spend_fen, revenue),
        payback_days=payback_days(spend_fen, first_day, daily),
    )


def run_roi(
    engine: Engine,
    *,
    workspace_id: str,
    query: RoiQuery,
    spend: Sequence[SpendEntry],
    person_map: Sequence[tuple[str, str]] = (),
) -> RoiResult:
    """CAC, ROI, ROAS and payback per channel for the period."""
    run = partial(run_attribution, engine, workspace_id=workspace_id, person_map=person_map)
    attributed, _ = run(query=query.attribution())
    horizon = query.period.model_copy(
        update={"last_day": query.period.first_day + timedelta(days=query.payback_horizon_days - 1)}
    )
    daily = _daily(run(query=query.attribution(horizon))[1])
    new = _new_buyers(engine, workspace_id, query, person_map)
    spent = spend_by_key(spend, query)
    credited = {c.channel: c for c in attributed.channels}
    channels = [
        _channel_return(
            name,
            spent.get(name, 0),
            credited.get(name),
            new.get(name, 0),
            query.period.first_day,
            daily.get(name, []),
        )
        for name in sorted(spent.keys() | credited.keys() | new.keys())
    ]
    channels.sort(key=lambda c: (-c.spend_fen, -c.attributed_revenue_fen, c.channel))
    total_spend = sum(spent.values())
    paid = sum(c.attributed_revenue_fen for c in channels if c.spend_fen > 0)
    total_new = sum(c.new_buyers for c in channels if c.spend_fen > 0)
    return RoiResult(
        query=query,
        spend_fen=total_spend,
        attributed_revenue_fen=attributed.revenue_fen,
        paid_revenue_fen=paid,
        new_buyers=sum(new.values()),
        roi=roi(total_spend, paid),
        roas=roas(total_spend, paid),
        cac_fen=cac(total_spend, total_new),
        channels=channels,
    )
