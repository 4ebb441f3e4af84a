"""Per-person behaviour facts for lifecycle staging, read from the event store.

One pass over the events (and the referral query of :mod:`siyu.analytics.pareto`) gives
what :func:`siyu.segments.lifecycle.classify` needs: latest event, page/screen views, other
track events, orders, whether the person holds a member number, and the first event inside
and the last event before the active window (for won-back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from siyu.analytics.engine import Dialect, Engine
from siyu.analytics.order_history import ORDER_EVENT
from siyu.analytics.pareto import MEMBER_PREFIX
from siyu.analytics.query import lit, micros_sql
from siyu.segments.lifecycle import PersonFacts


def _has_member_sql(dialect: Dialect) -> str:
    prefix = lit(MEMBER_PREFIX, dialect)
    if dialect is Dialect.CLICKHOUSE:
        return f"arrayExists(x -> startsWith(x, {prefix}), ids)"
    return f"len(list_filter(ids, lambda x: starts_with(x, {prefix}))) > 0"


def facts_sql(*, end: datetime, window_start: datetime, dialect: Dialect) -> str:
    """One row per person with events before ``end``."""
    us = micros_sql("timestamp", dialect)
    bigint = "Int64" if dialect is Dialect.CLICKHOUSE else "BIGINT"
    maybe = "Nullable(Int64)" if dialect is Dialect.CLICKHOUSE else "BIGINT"
    order = lit(ORDER_EVENT, dialect)
    window = lit(window_start, dialect)

    def total(condition: str) -> str:
        return f"CAST(sum(CASE WHEN {condition} THEN 1 ELSE 0 END) AS {bigint})"

    views = total("type IN ('page', 'screen')")
    interactions = total(f"type = 'track' AND event != {order}")
    orders = total(f"event = {order}")
    return (
        f"SELECT person_id, CAST(max({us}) AS {bigint}) AS last_us,\n"
        f"  {views} AS views,\n"
        f"  {interactions} AS interactions,\n"
        f"  {orders} AS orders,\n"
        f"  {total(_has_member_sql(dialect))} AS member_events,\n"
        f"  CAST(min(CASE WHEN timestamp >= {window} THEN {us} END) AS {maybe})"
        f" AS returned_us,\n"
        f"  CAST(max(CASE WHEN timestamp < {window} THEN {us} END) AS {maybe})"
        f" AS before_us\n"
        f"FROM events WHERE person_id IS NOT NULL AND timestamp < {lit(end, dialect)}\n"
        f"GROUP BY person_id ORDER BY person_id"
    )


def _at(micros: int | None) -> datetime | None:
    if micros is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def read_facts(
    engine: Engine,
    *,
    workspace_id: str,
    now: datetime,
    active_days: int,
    referred_buyers: Mapping[str, int],
    person_map: Sequence[tuple[str, str]] = (),
) -> list[PersonFacts]:
    """Every person's lifecycle facts as of ``now``."""
    sql = facts_sql(end=now, window_start=now - timedelta(days=active_days), dialect=engine.dialect)
    rows = engine.run(workspace_id=workspace_id, sql=sql, person_map=person_map).to_pylist()
    return [
        PersonFacts(
            person_id=row["person_id"],
            last_seen=_at(row["last_us"]) or now,
            views=int(row["views"]),
            interactions=int(row["interactions"]),
            orders=int(row["orders"]),
            member=int(row["member_events"]) > 0,
            referred_buyers=referred_buyers.get(row["person_id"], 0),
            returned_at=_at(row["returned_us"]),
            before_return_at=_at(row["before_us"]),
        )
        for row in rows
    ]
