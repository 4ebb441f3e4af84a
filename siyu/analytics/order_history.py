"""Orders per person and local day, read once from the event store for RFM, Pareto and LTV.

One query per dialect groups ``Order Completed`` events by (person, day in the workspace's
zone); everything after that is numpy over the per-day rows. Days are counted from
1970-01-01 in the workspace's zone, so BG/NBD counts at most one repeat purchase per day, as
the literature does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siyu.analytics.engine import Dialect, Engine
from siyu.analytics.query import lit, micros_sql

ORDER_EVENT = "Order Completed"
EPOCH = date(1970, 1, 1)
Ints = NDArray[np.int64]


def day_number_sql(column: str, timezone: str, dialect: Dialect) -> str:
    """Days from 1970-01-01 to the local date of ``column`` in ``timezone``."""
    zone = lit(timezone, dialect)
    if dialect is Dialect.CLICKHOUSE:
        return f"toInt64(dateDiff('day', toDate('1970-01-01'), toDate({column}, {zone})))"
    local = f"CAST(timezone({zone}, {column}) AS DATE)"
    return f"CAST(datediff('day', DATE '1970-01-01', {local}) AS BIGINT)"


def order_days_sql(*, end: datetime, timezone: str, dialect: Dialect) -> str:
    """Orders, revenue and the last order time per (person, local day), before ``end``."""
    day = day_number_sql("timestamp", timezone, dialect)
    bigint = "Int64" if dialect is Dialect.CLICKHOUSE else "BIGINT"
    return (
        f"SELECT person_id, {day} AS day, CAST(count(*) AS {bigint}) AS orders, "
        f"CAST(sum(coalesce(revenue_fen, 0)) AS {bigint}) AS revenue_fen, "
        f"CAST(max({micros_sql('timestamp', dialect)}) AS {bigint}) AS last_us\n"
        f"FROM events\n"
        f"WHERE event = {lit(ORDER_EVENT, dialect)} AND person_id IS NOT NULL "
        f"AND timestamp < {lit(end, dialect)}\n"
        f"GROUP BY person_id, day\n"
        f"ORDER BY person_id, day"
    )


@dataclass(frozen=True)
class OrderDays:
    """Per (person, local day) order rows, sorted by person then day."""

    person: NDArray[np.object_]
    day: Ints
    orders: Ints
    revenue_fen: Ints
    last_us: Ints

    @classmethod
    def from_arrow(cls, table: pa.Table) -> OrderDays:
        """From the rows of :func:`order_days_sql` (re-sorted: engines may not keep order)."""
        cols = {
            name: table.column(name).to_numpy(zero_copy_only=False) for name in table.schema.names
        }
        person = cols["person_id"].astype(object)
        day = cols["day"].astype(np.int64)
        order = np.lexsort((day, person.astype(str))) if len(day) else np.arange(0)
        return cls(
            person=person[order],
            day=day[order],
            orders=cols["orders"].astype(np.int64)[order],
            revenue_fen=cols["revenue_fen"].astype(np.int64)[order],
            last_us=cols["last_us"].astype(np.int64)[order],
        )


@dataclass(frozen=True)
class PersonOrders:
    """Order history per buyer (one row per person)."""

    person: NDArray[np.object_]
    first_day: Ints
    last_day: Ints
    order_days: Ints
    orders: Ints
    revenue_fen: Ints
    first_day_revenue_fen: Ints
    last_order_us: Ints


def per_person(rows: OrderDays) -> PersonOrders:
    """Collapse per-day rows to one row per buyer."""
    if len(rows.day) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PersonOrders(
            np.zeros(0, dtype=object), empty, empty, empty, empty, empty, empty, empty
        )
    starts = np.flatnonzero(np.r_[True, rows.person[1:] != rows.person[:-1]])
    ends = np.r_[starts[1:], len(rows.day)] - 1
    return PersonOrders(
        person=rows.person[starts],
        first_day=rows.day[starts],
        last_day=rows.day[ends],
        order_days=np.diff(np.r_[starts, len(rows.day)]).astype(np.int64),
        orders=np.add.reduceat(rows.orders, starts),
        revenue_fen=np.add.reduceat(rows.revenue_fen, starts),
        first_day_revenue_fen=rows.revenue_fen[starts],
        last_order_us=np.maximum.reduceat(rows.last_us, starts),
    )


def read_order_days(
    engine: Engine,
    *,
    workspace_id: str,
    end: datetime,
    timezone: str,
    person_map: Sequence[tuple[str, str]] = (),
) -> OrderDays:
    """Run :func:`order_days_sql` on ``engine``."""
    sql = order_days_sql(end=end, timezone=timezone, dialect=engine.dialect)
    return OrderDays.from_arrow(
        engine.run(workspace_id=workspace_id, sql=sql, person_map=person_map)
    )


def date_of(day_number: int) -> date:
    """The local date of a day number."""
    return EPOCH + timedelta(days=int(day_number))


def day_number(value: date) -> int:
    """The day number of a local date."""
    return (value - EPOCH).days
