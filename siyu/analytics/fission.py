"""Fission (裂变): a cross-person referral funnel, one SQL statement per dialect.

A referral's steps are done by different people — the referrer shares, the invitee clicks,
registers and orders — so a per-person funnel (:mod:`siyu.analytics.funnels`) cannot see it.
Here, for a :class:`~siyu.analytics.models.FissionQuery` over [``start``, ``end``):

1. **Shared** — persons with a ``share_event`` in the range (referrers), and the share count.
2. **Clicked** — invitees: persons with a ``click_events`` event in the range whose
   ``referrer_property`` names a member identifier (``member_id_type``) held by another
   person, the referrer. The holder of an identifier is the person of the earliest event
   carrying it (persons mapped through merges). An invitee is attributed to the referrer of
   their first such click (ties by message id), and that click starts their window.
3. **Registered** — invitees whose *first* registration ever (a ``signup_event``, or an
   identify carrying a member identifier) falls within ``window`` (inclusive) after the
   click; someone already a member before clicking never registers here.
4. **Ordered** — registered invitees with an ``order_event`` at or after registering and
   within ``window`` of the click; those orders and their revenue are credited.

Conversion: step 2 is invitees per share; steps 3 and 4 are invitees over the step before.
K-factor = invitees who ordered / referrers who shared. Median times: click → registration
and registration → first credited order. A breakdown splits by the referrer's first-touch
channel (channel of their first event that has one, before ``end``); the top referrers are
ranked by invitees who ordered, registered, clicked, then shares, GMV and person id.

Each person's times are integer microseconds, so both engines compare them identically.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    FissionBreakdown,
    FissionQuery,
    FissionReferrer,
    FissionResult,
    FissionSeries,
    FissionStepResult,
)
from siyu.analytics.query import lit, micros_sql, text_sql, time_range_sql

STEP_NAMES = ("Shared", "Clicked", "Registered", "Ordered")
_COUNTS = ("referrers", "shares", "invitees", "registered", "ordered", "orders", "gmv_fen")


def _window_us(query: FissionQuery) -> int:
    return int(query.window.total_seconds() * 1_000_000)


def _holders_cte(query: FissionQuery, dialect: Dialect, until: str) -> str:
    """Member identifier → the person of the earliest event carrying it (referenced ones)."""
    prefix = f"{query.member_id_type}:"
    start = len(prefix) + 1
    if dialect is Dialect.CLICKHOUSE:
        held = (
            f"SELECT person_id, timestamp, substring(id, {start}) AS member_id FROM events "
            f"ARRAY JOIN ids AS id WHERE startsWith(id, {lit(prefix, dialect)}) AND {until}"
        )
        first = "argMin(person_id, (timestamp, person_id))"
    else:
        held = (
            f"SELECT person_id, timestamp, substr(id, {start}) AS member_id FROM "
            f"(SELECT person_id, timestamp, unnest(ids) AS id FROM events WHERE {until}) AS u "
            f"WHERE starts_with(id, {lit(prefix, dialect)})"
        )
        first = "arg_min(person_id, (timestamp, person_id))"
    return (
        f"holders AS (SELECT member_id, {first} AS holder FROM ({held}) AS h "
        f"WHERE member_id IN (SELECT ref FROM refs) GROUP BY member_id)"
    )


def _has_member_id_sql(query: FissionQuery, dialect: Dialect) -> str:
    prefix = lit(f"{query.member_id_type}:", dialect)
    if dialect is Dialect.CLICKHOUSE:
        return f"arrayExists(x -> startsWith(x, {prefix}), ids)"
    return f"len(list_filter(ids, lambda x: starts_with(x, {prefix}))) > 0"


def _names(names: list[str], dialect: Dialect) -> str:
    return ", ".join(lit(n, dialect) for n in names)


def _invitee_ctes(query: FissionQuery, dialect: Dialect) -> list[str]:
    in_range = time_range_sql(query.start, query.end, dialect)
    until = f"timestamp < {lit(query.end + query.window, dialect)}"
    ref = text_sql(query.referrer_property, dialect)
    clicks = _names(query.click_events, dialect)
    events = _names([query.share_event, *query.click_events], dialect)
    arg_min = "argMin" if dialect is Dialect.CLICKHOUSE else "arg_min"
    return [
        f"refs AS (SELECT DISTINCT {ref} AS ref FROM events "
        f"WHERE event IN ({events}) AND {in_range} AND {ref} IS NOT NULL)",
        _holders_cte(query, dialect, until),
        "clicks AS (SELECT c.person_id AS invitee, h.holder AS referrer, c.at_us AS at_us, "
        "c.message_id AS message_id FROM "
        f"(SELECT person_id, message_id, {micros_sql('timestamp', dialect)} AS at_us, "
        f"{ref} AS ref FROM events WHERE event IN ({clicks}) AND {in_range}) AS c "
        "INNER JOIN holders AS h ON h.member_id = c.ref WHERE h.holder != c.person_id)",
        f"invitees AS (SELECT invitee, {arg_min}(referrer, (at_us, message_id)) AS referrer, "
        "min(at_us) AS clicked_us FROM clicks GROUP BY invitee)",
        f"registrations AS (SELECT person_id, min({micros_sql('timestamp', dialect)}) AS reg_us "
        f"FROM events WHERE (event = {lit(query.signup_event, dialect)} OR (type = 'identify' "
        f"AND {_has_member_id_sql(query, dialect)})) AND {until} GROUP BY person_id)",
    ]


def _outcome_ctes(query: FissionQuery, dialect: Dialect) -> list[str]:
    w = _window_us(query)
    orders_range = time_range_sql(query.start, query.end + query.window, dialect)
    # A LEFT JOIN's missing row is NULL on DuckDB but default values on ClickHouse: each
    # condition therefore also checks the joined key, which is false in both cases.
    registered = (
        f"r.person_id = i.invitee AND r.reg_us >= i.clicked_us AND r.reg_us <= i.clicked_us + {w}"
    )
    hit = (
        f"j.joined_reg_us > 0 AND o.person_id = j.invitee AND o.at_us >= j.joined_reg_us "
        f"AND o.at_us <= j.joined_clicked_us + {w}"
    )
    return [
        "joined AS (SELECT i.invitee AS invitee, i.referrer AS referrer, "
        "i.clicked_us AS joined_clicked_us, "
        f"CASE WHEN {registered} THEN r.reg_us ELSE 0 END AS joined_reg_us "
        "FROM invitees AS i LEFT JOIN registrations AS r ON r.person_id = i.invitee)",
        f"order_rows AS (SELECT person_id, {micros_sql('timestamp', dialect)} AS at_us, "
        f"coalesce(revenue_fen, 0) AS fen FROM events "
        f"WHERE event = {lit(query.order_event, dialect)} AND {orders_range})",
        "bought AS (SELECT j.invitee AS b_invitee, j.referrer AS b_referrer, "
        "j.joined_clicked_us AS b_clicked_us, j.joined_reg_us AS b_reg_us, "
        f"sum(CASE WHEN {hit} THEN 1 ELSE 0 END) AS b_orders, "
        f"sum(CASE WHEN {hit} THEN o.fen ELSE 0 END) AS b_gmv, "
        f"min(CASE WHEN {hit} THEN o.at_us END) AS b_first_order_us "
        "FROM joined AS j LEFT JOIN order_rows AS o ON o.person_id = j.invitee "
        "GROUP BY j.invitee, j.referrer, j.joined_clicked_us, j.joined_reg_us)",
    ]


def _facts_cte(query: FissionQuery, dialect: Dialect) -> str:
    """One row per referrer who shared (their shares) and one per invitee (their steps)."""
    big = "Int64" if dialect is Dialect.CLICKHOUSE else "BIGINT"
    real = "Nullable(Float64)" if dialect is Dialect.CLICKHOUSE else "DOUBLE"

    def n(expr: str) -> str:
        return f"CAST({expr} AS {big})"

    in_range = time_range_sql(query.start, query.end, dialect)
    shares = (
        f"SELECT person_id AS referrer, {n('count(*)')} AS f_shares, {n('0')} AS f_invitee, "
        f"{n('0')} AS f_registered, {n('0')} AS f_ordered, {n('0')} AS f_orders, "
        f"{n('0')} AS f_gmv, CAST(NULL AS {real}) AS f_reg_gap, "
        f"CAST(NULL AS {real}) AS f_order_gap FROM events "
        f"WHERE event = {lit(query.share_event, dialect)} AND {in_range} GROUP BY person_id"
    )
    invitees = (
        f"SELECT b_referrer, {n('0')}, {n('1')}, "
        f"{n('CASE WHEN b_reg_us > 0 THEN 1 ELSE 0 END')}, "
        f"{n('CASE WHEN b_orders > 0 THEN 1 ELSE 0 END')}, {n('b_orders')}, {n('b_gmv')}, "
        f"CAST(CASE WHEN b_reg_us > 0 THEN (b_reg_us - b_clicked_us) / 1000000 END AS {real}), "
        f"CAST(CASE WHEN b_orders > 0 THEN (b_first_order_us - b_reg_us) / 1000000 END "
        f"AS {real}) FROM bought"
    )
    return f"facts AS ({shares}\nUNION ALL\n{invitees})"


def _tagged_ctes(query: FissionQuery, dialect: Dialect) -> list[str]:
    arg_min = "argMin" if dialect is Dialect.CLICKHOUSE else "arg_min"
    return [
        f"touch AS (SELECT person_id, {arg_min}(channel, (timestamp, message_id)) AS t_channel "
        f"FROM events WHERE channel IS NOT NULL AND timestamp < {lit(query.end, dialect)} "
        "GROUP BY person_id)",
        "member_of AS (SELECT holder, min(member_id) AS m_member_id FROM holders GROUP BY holder)",
        "tagged AS (SELECT f.*, "
        "CASE WHEN t.person_id = f.referrer THEN t.t_channel END AS channel, "
        "CASE WHEN m.holder = f.referrer THEN m.m_member_id END AS member_id "
        "FROM facts AS f LEFT JOIN touch AS t ON t.person_id = f.referrer "
        "LEFT JOIN member_of AS m ON m.holder = f.referrer)",
    ]


def _aggregates(dialect: Dialect) -> str:
    def median(column: str) -> str:
        if dialect is Dialect.CLICKHOUSE:
            return f"quantileExactInclusive(0.5)({column})"
        return f"quantile_cont({column}, 0.5)"

    return (
        "sum(CASE WHEN f_shares > 0 THEN 1 ELSE 0 END) AS referrers, sum(f_shares) AS shares, "
        "sum(f_invitee) AS invitees, sum(f_registered) AS registered, "
        "sum(f_ordered) AS ordered, sum(f_orders) AS orders, sum(f_gmv) AS gmv_fen, "
        f"{median('f_reg_gap')} AS m3, {median('f_order_gap')} AS m4"
    )


def fission_sql(query: FissionQuery, dialect: Dialect) -> str:
    """One statement computing the fission funnel, its breakdown and its top referrers.

    Rows: ``kind`` ('total', 'channel' per referrer first-touch channel, 'referrer' for the
    top ``query.top``), ``key`` (channel or person id), ``member_id``, ``channel``, and
    ``referrers, shares, invitees, registered, ordered, orders, gmv_fen, m3, m4``.
    """
    ctes = [
        *_invitee_ctes(query, dialect),
        *_outcome_ctes(query, dialect),
        _facts_cte(query, dialect),
        *_tagged_ctes(query, dialect),
    ]
    text = "Nullable(String)" if dialect is Dialect.CLICKHOUSE else "VARCHAR"
    null = f"CAST(NULL AS {text})"
    agg = _aggregates(dialect)
    parts = [
        f"SELECT 'total' AS kind, {null} AS key, {null} AS member_id, {null} AS channel, "
        f"{agg} FROM tagged"
    ]
    if query.breakdown is FissionBreakdown.REFERRER_FIRST_TOUCH_CHANNEL:
        parts.append(
            f"SELECT 'channel', CAST(channel AS {text}), {null}, CAST(channel AS {text}), {agg} "
            "FROM tagged GROUP BY channel"
        )
    if query.top:
        parts.append(
            f"SELECT * FROM (SELECT 'referrer', CAST(referrer AS {text}), "
            f"CAST(member_id AS {text}), CAST(channel AS {text}), {agg} FROM tagged "
            "GROUP BY referrer, member_id, channel ORDER BY ordered DESC, registered DESC, "
            f"invitees DESC, shares DESC, gmv_fen DESC, referrer LIMIT {int(query.top)})"
        )
    ctes_sql = ",\n".join(ctes)
    return f"WITH {ctes_sql}\n" + "\nUNION ALL\n".join(parts)


# -- reading results ---------------------------------------------------------------------


def _int(row: dict[str, Any], name: str) -> int:
    return int(row.get(name) or 0)


def _median(row: dict[str, Any], name: str, reached: int) -> float | None:
    value = row.get(name)
    return None if value is None or not reached else round(float(value), 3)


def ratio(a: int, b: int) -> float:
    """``a / b``, or 0 when ``b`` is 0."""
    return a / b if b else 0.0


def _series(row: dict[str, Any], value: str | None) -> FissionSeries:
    referrers, shares, invitees, registered, ordered = (
        _int(row, c) for c in ("referrers", "shares", "invitees", "registered", "ordered")
    )
    persons = (referrers, invitees, registered, ordered)
    conversions = (float(referrers > 0), ratio(invitees, shares), ratio(registered, invitees))
    medians = (None, None, _median(row, "m3", registered), _median(row, "m4", ordered))
    steps = [
        FissionStepResult(
            step=i + 1,
            name=STEP_NAMES[i],
            persons=persons[i],
            conversion_from_previous=(*conversions, ratio(ordered, registered))[i],
            median_seconds_from_previous=medians[i],
        )
        for i in range(4)
    ]
    return FissionSeries(
        breakdown_value=value,
        steps=steps,
        shares=shares,
        orders=_int(row, "orders"),
        gmv_fen=_int(row, "gmv_fen"),
        k_factor=ratio(ordered, referrers),
    )


def _referrer(row: dict[str, Any]) -> FissionReferrer:
    counts = {c: _int(row, c) for c in _COUNTS if c != "referrers"}
    return FissionReferrer(
        person_id=str(row["key"]),
        member_id=row["member_id"] or None,
        first_touch_channel=row["channel"] or None,
        **counts,
    )


def _rank(r: FissionReferrer) -> tuple[int, int, int, int, int, str]:
    return (-r.ordered, -r.registered, -r.invitees, -r.shares, -r.gmv_fen, r.person_id)


def read_fission(table: pa.Table, query: FissionQuery) -> FissionResult:
    """The typed result of :func:`fission_sql`'s rows."""
    total = _series({}, None)
    breakdown, top = [], []
    for row in table.to_pylist():
        if row["kind"] == "total":
            total = _series(row, None)
        elif row["kind"] == "channel":
            breakdown.append(_series(row, row["key"] or None))
        else:
            top.append(_referrer(row))
    breakdown.sort(
        key=lambda s: (-s.steps[0].persons, -s.steps[1].persons, s.breakdown_value or "")
    )
    return FissionResult(
        query=query, total=total, breakdown=breakdown, top_referrers=sorted(top, key=_rank)
    )
