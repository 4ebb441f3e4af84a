"""Content performance: touches and orders from the event store, reach from the outbox, links
and items from the operational store, folded by :mod:`siyu.content.performance`."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.analytics.engine import Dialect, engine_for, sql_literal
from siyu.analytics.gmv import ORDER_EVENT
from siyu.channels.models import MessageStatus
from siyu.channels.tables import channel_messages
from siyu.content import links as content_links
from siyu.content import performance
from siyu.content import service as content
from siyu.content.performance import ContentReport, Row
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.ingest import flush

DEFAULT_WINDOW_DAYS = 7
_SENT = (MessageStatus.SENT.value, MessageStatus.DELIVERED.value)


def _code_sql(dialect: Dialect) -> str:
    if dialect is Dialect.CLICKHOUSE:
        return "nullIf(JSONExtractString(properties, 'content_code'), '')"
    return "json_extract_string(properties, '$.content_code')"


def performance_sql(
    *, since: datetime, start: datetime, end: datetime, order_event: str, dialect: Dialect
) -> str:
    """SQL answering (person_id, ts, event, code, revenue_fen, first_event) rows in person and
    time order: content touches from ``since`` (start minus the window) and the touchers'
    orders in [start, end). ``first_event``: the touch is the person's first event ever."""
    lit = partial(sql_literal, dialect=dialect)
    events = ", ".join(lit(e) for e in performance.TOUCH_EVENTS)
    return f"""WITH touches AS (
    SELECT person_id, timestamp AS ts, event, {_code_sql(dialect)} AS code
    FROM events
    WHERE event IN ({events}) AND person_id IS NOT NULL
        AND timestamp >= {lit(since)} AND timestamp < {lit(end)}
),
firsts AS (
    SELECT person_id, min(timestamp) AS first_at FROM events
    WHERE person_id IN (SELECT person_id FROM touches) GROUP BY person_id
)
SELECT * FROM (
    SELECT t.person_id AS person_id, t.ts AS ts, t.event AS event, t.code AS code,
        CAST(0 AS BIGINT) AS revenue_fen, t.ts <= f.first_at AS first_event, 0 AS is_order
    FROM touches AS t JOIN firsts AS f ON f.person_id = t.person_id
    WHERE t.code IS NOT NULL
    UNION ALL
    SELECT person_id, timestamp AS ts, event, NULL AS code,
        CAST(coalesce(revenue_fen, 0) AS BIGINT) AS revenue_fen, false AS first_event,
        1 AS is_order
    FROM events
    WHERE event = {lit(order_event)} AND person_id IN (SELECT person_id FROM touches)
        AND timestamp >= {lit(start)} AND timestamp < {lit(end)}
) AS rows
ORDER BY person_id, ts, is_order"""


def reach(
    *, session: Session, workspace_id: str, start: datetime, end: datetime
) -> dict[tuple[str, str], int]:
    """Messages carrying each item that were sent in [start, end), per (item, channel)."""
    m = channel_messages.c
    content_id = m.params["content_id"].as_string()
    rows = session.execute(
        select(content_id, m.channel, func.count())
        .where(
            m.workspace_id == workspace_id,
            m.status.in_(_SENT),
            content_id.is_not(None),
            m.sent_at >= start,
            m.sent_at < end,
        )
        .group_by(content_id, m.channel)
    ).all()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def content_performance(
    *,
    runtime: Runtime,
    workspace_id: str,
    start: datetime,
    end: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    content_id: str | None = None,
    dialect: Dialect | str = Dialect.DUCKDB,
) -> ContentReport:
    """Reach, views, clicks, shares, new contacts, orders and GMV per item, channel and sharer.

    An order in [start, end) is credited to the buyer's last content view or click within
    ``window_days`` before it. The inbox is flushed first, so what was just tracked counts.

    Raises:
        InvalidInputError: ``end`` not after ``start``, or a window outside 1–90 days.
        NotFoundError: ``content_id`` names no item.
    """
    if end <= start:
        raise InvalidInputError("end must be after start", field="end")
    if not 1 <= window_days <= 90:
        raise InvalidInputError("the attribution window is 1 to 90 days", field="window_days")
    flush(runtime=runtime)
    base_url = runtime.settings.public_url
    with runtime.sessions() as session:
        if content_id is not None:
            content.get_content(session=session, workspace_id=workspace_id, content_id=content_id)
        links = content_links.list_links(
            session=session, workspace_id=workspace_id, base_url=base_url
        )
        items = content.titles(session=session, workspace_id=workspace_id)
        sent = reach(session=session, workspace_id=workspace_id, start=start, end=end)
        person_map = identity.person_map(session=session, workspace_id=workspace_id)
    window = timedelta(days=window_days)
    engine = engine_for(runtime, Dialect(dialect))
    sql = performance_sql(
        since=start - window, start=start, end=end, order_event=ORDER_EVENT, dialect=engine.dialect
    )
    table = engine.run(workspace_id=workspace_id, sql=sql, person_map=person_map)
    rows = (
        Row(
            person_id=r["person_id"],
            at=r["ts"],
            event=r["event"],
            code=r["code"],
            revenue_fen=int(r["revenue_fen"]),
            first_event=bool(r["first_event"]),
        )
        for r in table.to_pylist()
    )
    tally = performance.fold(rows, {k.code: k for k in links}, start=start, window=window)
    if content_id is not None:
        items = {content_id: items[content_id]}
    result = performance.report(
        tally, items=items, links=links, reach=sent, start=start, end=end, window_days=window_days
    )
    if content_id is not None:
        result.sharers = [s for s in result.sharers if s.content_id == content_id]
    return result
