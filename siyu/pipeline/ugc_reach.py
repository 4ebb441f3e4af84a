"""What UGC brought, from the event store: tracked clicks and attributed orders per KOC.

A *touch* is any event carrying ``ugc_post_id`` (a post's tracked link, landing page, share
card…) or ``sharer_id`` (the content library's tracked links per sharer), except siyu's own
``ugc_post_submitted``. A touch belongs to the post's author, or to the sharer when it names
no known post. An order (``Order Completed``) in [start, end) is credited to the *latest*
touch of its buyer in the attribution window before it (an order that itself carries
``ugc_post_id``/``sharer_id`` is its own touch); touches whose KOC is the buyer are
ignored, so a KOC's own purchases never count. Persons are mapped through merges.

DuckDB SQL (the embedded event store); built apart from running, as analytics does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import pyarrow as pa

from siyu.analytics.engine import Dialect, Engine
from siyu.analytics.query import lit, micros_sql, text_sql

ORDER_EVENT = "Order Completed"
OWN_EVENTS = ("ugc_post_submitted",)
_D = Dialect.DUCKDB


class Brought(NamedTuple):
    """Clicks, attributed orders, their buyers and GMV of one KOC."""

    clicks: int = 0
    orders: int = 0
    buyers: int = 0
    gmv_fen: int = 0


def _credited_cte(start: datetime, end: datetime, window: timedelta) -> str:
    post, sharer = text_sql("ugc_post_id", _D), text_sql("sharer_id", _D)
    own = ", ".join(lit(e, _D) for e in OWN_EVENTS)
    return (
        "touches AS (SELECT person_id, message_id, event, "
        f"{micros_sql('timestamp', _D)} AS at_us, {post} AS post_id, {sharer} AS sharer_id "
        f"FROM events WHERE timestamp >= {lit(start - window, _D)} AND timestamp < {lit(end, _D)} "
        f"AND coalesce(event, '') NOT IN ({own}) AND ({post} IS NOT NULL OR {sharer} IS NOT NULL)"
        "),\n"
        "credited AS (SELECT t.*, coalesce(a.author, s.survivor, t.sharer_id) AS koc "
        "FROM touches AS t LEFT JOIN ugc_authors AS a ON a.post_id = t.post_id "
        "LEFT JOIN ugc_sharers AS s ON s.absorbed = t.sharer_id)"
    )


def brought_sql(start: datetime, end: datetime, window: timedelta) -> str:
    """One row per KOC: clicks in [start, end) and the orders credited to them."""
    w = int(window.total_seconds() * 1_000_000)
    start_us = f"{micros_sql(lit(start, _D), _D)}"
    return (
        f"WITH {_credited_cte(start, end, window)},\n"
        f"orders AS (SELECT person_id, message_id, {micros_sql('timestamp', _D)} AS at_us, "
        f"coalesce(revenue_fen, 0) AS gmv FROM events WHERE event = {lit(ORDER_EVENT, _D)} "
        f"AND timestamp >= {lit(start, _D)} AND timestamp < {lit(end, _D)}),\n"
        "matched AS (SELECT o.message_id AS order_id, o.person_id AS buyer, o.gmv AS gmv, "
        "c.koc AS koc, row_number() OVER (PARTITION BY o.message_id "
        "ORDER BY c.at_us DESC, c.message_id DESC) AS n FROM orders AS o "
        "INNER JOIN credited AS c ON c.person_id = o.person_id AND c.at_us <= o.at_us "
        f"AND c.at_us >= o.at_us - {w} WHERE c.koc != o.person_id),\n"
        "won AS (SELECT koc, count(*) AS orders, count(DISTINCT buyer) AS buyers, "
        "sum(gmv) AS gmv_fen FROM matched WHERE n = 1 GROUP BY koc),\n"
        "clicked AS (SELECT koc, count(*) AS clicks FROM credited "
        f"WHERE coalesce(event, '') != {lit(ORDER_EVENT, _D)} AND at_us >= {start_us} "
        "AND koc != person_id GROUP BY koc)\n"
        "SELECT coalesce(w.koc, k.koc) AS koc, coalesce(k.clicks, 0) AS clicks, "
        "coalesce(w.orders, 0) AS orders, coalesce(w.buyers, 0) AS buyers, "
        "coalesce(w.gmv_fen, 0) AS gmv_fen FROM won AS w FULL OUTER JOIN clicked AS k "
        "ON k.koc = w.koc ORDER BY koc"
    )


def brought(
    engine: Engine,
    *,
    workspace_id: str,
    authors: dict[str, str],
    person_map: Sequence[tuple[str, str]],
    start: datetime,
    end: datetime,
    window: timedelta,
) -> dict[str, Brought]:
    """KOC person → what their posts and shares brought in [start, end).

    ``authors``: post id → author (already a survivor); ``person_map``: absorbed → survivor.
    """
    tables = {
        "ugc_authors": pa.table(
            {"post_id": pa.array(list(authors), pa.string()),
             "author": pa.array(list(authors.values()), pa.string())}
        ),
        "ugc_sharers": pa.table(
            {"absorbed": pa.array([a for a, _ in person_map], pa.string()),
             "survivor": pa.array([s for _, s in person_map], pa.string())}
        ),
    }  # fmt: skip
    rows = engine.run(
        workspace_id=workspace_id,
        sql=brought_sql(start, end, window),
        tables=tables,
        person_map=person_map,
    ).to_pylist()
    return {
        str(r["koc"]): Brought(int(r["clicks"]), int(r["orders"]), int(r["buyers"]),
                               int(r["gmv_fen"]))
        for r in rows
    }  # fmt: skip
