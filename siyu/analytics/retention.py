"""Retention cohorts and repurchase: typed queries compiled to one SQL per dialect.

* A person's cohort is the period (day / week from Monday / month, in the query's zone)
  of their first event ever (``first_visit``) or first order (``first_order``); cohorts
  whose first event falls in [start, end) are reported.
* Period *k* ≥ 1 counts the cohort's persons with a returning event (any event, or the
  named one) in the *k*-th period after the cohort's; period 0 is the cohort's size.
  ClickHouse computes each person's return flags with its ``retention`` aggregate.
* Repurchase: buyers are persons with an order in [start, end); repeat buyers have two
  or more there; "within N days" means their second order came at most N days after the
  first. Purchase intervals are the gaps between a person's consecutive orders in range.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    Cohort,
    CohortBy,
    IntervalBucket,
    Period,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from siyu.analytics.query import lit, micros_sql, time_range_sql

INTERVAL_EDGES = (0, 1, 3, 7, 14, 30, 60, 90)
"""Lower edges (days) of the purchase-interval histogram buckets."""

DAY_US = 86_400_000_000
RETENTION_MAX_CONDITIONS = 32
"""ClickHouse's ``retention`` aggregate takes at most this many conditions."""


def _local_date_sql(column: str, zone: str, dialect: Dialect) -> str:
    if dialect is Dialect.CLICKHOUSE:
        return f"toDate({column}, {lit(zone, dialect)})"
    return f"CAST(timezone({lit(zone, dialect)}, {column}) AS DATE)"


def _period_start_sql(day: str, period: Period, dialect: Dialect) -> str:
    if period is Period.DAY:
        return day
    if dialect is Dialect.CLICKHOUSE:
        return f"toMonday({day})" if period is Period.WEEK else f"toStartOfMonth({day})"
    return f"CAST(date_trunc('{period.value}', {day}) AS DATE)"


def _period_index_sql(cohort: str, day: str, period: Period, dialect: Dialect) -> str:
    """Whole periods from the cohort's period start to ``day``'s."""
    start = _period_start_sql(day, period, dialect)
    fn = "dateDiff" if dialect is Dialect.CLICKHOUSE else "date_diff"
    if period is Period.MONTH:
        return f"{fn}('month', {cohort}, {start})"
    days = f"{fn}('day', {cohort}, {start})"
    return days if period is Period.DAY else f"CAST({days} / 7 AS INTEGER)"


def retention_sql(query: RetentionQuery, dialect: Dialect) -> str:
    """Rows ``cohort`` (date), ``persons``, ``r0..rN`` (persons back in period k)."""
    d = dialect
    cohort_event = (
        f"WHERE event = {lit(query.order_event, d)}"
        if query.cohort_by is CohortBy.FIRST_ORDER
        else ""
    )
    returning = f"e.event = {lit(query.returning_event, d)}" if query.returning_event else "true"
    day = _local_date_sql("first_at", query.timezone, d)
    firsts = (
        f"firsts AS (SELECT person_id, min(timestamp) AS first_at FROM events {cohort_event} "
        "GROUP BY person_id)"
    )
    start = _period_start_sql(day, query.period, d)
    cohorts = (
        f"cohorts AS (SELECT person_id, first_at, {start} AS cohort "
        f"FROM firsts WHERE first_at >= {lit(query.start, d)} AND first_at < {lit(query.end, d)})"
    )
    k = _period_index_sql(
        "c.cohort", _local_date_sql("e.timestamp", query.timezone, d), query.period, d
    )
    n = query.periods
    back = (
        f"back AS (SELECT e.person_id AS person_id, c.cohort AS cohort, {k} AS k "
        f"FROM events AS e JOIN cohorts AS c ON e.person_id = c.person_id "
        f"WHERE e.timestamp > c.first_at AND {returning})"
    )
    per_person = ""
    if d is Dialect.CLICKHOUSE:
        # retention() takes at most 32 conditions: `true` and up to 31 periods per call, and
        # at most 8 when they are Nullable (k is, when chdb infers a Nullable timestamp from
        # the Parquet files), so each condition is made non-Nullable with ifNull.
        step = RETENTION_MAX_CONDITIONS - 1
        names = ["r" if lo == 1 else f"r_{lo}" for lo in range(1, n + 1, step)]
        arrays = ", ".join(
            "retention({}) AS {}".format(
                ", ".join(
                    ["true", *(f"ifNull(k = {i}, 0)" for i in range(lo, min(lo + step, n + 1)))]
                ),
                name,
            )
            for lo, name in zip(range(1, n + 1, step), names, strict=True)
        )
        per_person = (
            f"flags AS (SELECT cohort, {arrays} FROM back "
            f"WHERE k BETWEEN 1 AND {n} GROUP BY person_id, cohort)"
        )
        counts = ", ".join(
            f"sum({names[(i - 1) // step]}[{(i - 1) % step + 2}]) AS r{i}" for i in range(1, n + 1)
        )
        tail = f"returns AS (SELECT cohort, {counts} FROM flags GROUP BY cohort)"
    else:
        counts = ", ".join(
            f"count(DISTINCT person_id) FILTER (WHERE k = {i}) AS r{i}" for i in range(1, n + 1)
        )
        tail = (
            f"returns AS (SELECT cohort, {counts} FROM back WHERE k BETWEEN 1 AND {n} "
            "GROUP BY cohort)"
        )
    sizes = "sizes AS (SELECT cohort, count(*) AS persons FROM cohorts GROUP BY cohort)"
    columns = ", ".join(f"coalesce(r.r{i}, 0) AS r{i}" for i in range(1, n + 1))
    parts = [firsts, cohorts, back, *([per_person] if d is Dialect.CLICKHOUSE else []), tail]
    ctes = ",\n".join(parts)
    return (
        f"WITH {ctes},\n{sizes}\n"
        f"SELECT s.cohort AS cohort, s.persons AS persons, {columns} "
        "FROM sizes AS s LEFT JOIN returns AS r ON r.cohort = s.cohort ORDER BY cohort"
    )


def _periods_between(start: date, end: date, period: Period) -> int:
    """Whole periods of ``period`` from ``start`` to ``end`` (both period starts)."""
    if period is Period.MONTH:
        return (end.year - start.year) * 12 + end.month - start.month
    days = (end - start).days
    return days if period is Period.DAY else days // 7


def read_retention(table: pa.Table, query: RetentionQuery, *, today: date) -> RetentionResult:
    """The typed result of :func:`retention_sql`; ``today`` (in the zone) bounds averages."""
    cohorts = []
    for row in table.to_pylist():
        persons = int(row["persons"])
        returned = [persons, *(int(row[f"r{i}"]) for i in range(1, query.periods + 1))]
        cohorts.append(
            Cohort(
                start=row["cohort"],
                persons=persons,
                returned=returned,
                rates=[r / persons if persons else 0.0 for r in returned],
            )
        )
    average = []
    for k in range(query.periods + 1):
        old_enough = [c for c in cohorts if _periods_between(c.start, today, query.period) >= k]
        total = sum(c.persons for c in old_enough)
        average.append(sum(c.returned[k] for c in old_enough) / total if total else 0.0)
    return RetentionResult(query=query, cohorts=cohorts, average=average)


# -- repurchase --------------------------------------------------------------------------


def repurchase_sql(query: RepurchaseQuery, dialect: Dialect) -> str:
    """One row: buyers, repeat buyers, within-N-days, orders, intervals, quartiles (µs),
    and ``b0..b7`` interval counts per :data:`INTERVAL_EDGES` bucket."""
    d = dialect
    micros = micros_sql("timestamp", d)
    in_range = time_range_sql(query.start, query.end, d)
    orders = (
        f"orders AS (SELECT person_id, {micros} AS t FROM events "
        f"WHERE event = {lit(query.order_event, d)} AND {in_range})"
    )
    within = query.within_days * DAY_US
    if d is Dialect.CLICKHOUSE:
        per_person = (
            "buyers AS (SELECT person_id, count() AS n, arraySort(groupArray(t)) AS ts "
            "FROM orders GROUP BY person_id)"
        )
        gaps = (
            "gaps AS (SELECT arrayJoin(arrayPopFront(arrayDifference(ts))) AS gap "
            "FROM buyers WHERE n >= 2)"
        )
        second = "ts[2] - ts[1]"
        quartiles = "quantilesExactInclusive(0.25, 0.5, 0.75)(gap)"
        count_if = "countIf({})"
    else:
        per_person = (
            "buyers AS (SELECT person_id, count(*) AS n, list_sort(list(t)) AS ts "
            "FROM orders GROUP BY person_id)"
        )
        gaps = (
            "gaps AS (SELECT t - lag(t) OVER (PARTITION BY person_id ORDER BY t) AS gap "
            "FROM orders QUALIFY gap IS NOT NULL)"
        )
        second = "ts[2] - ts[1]"
        quartiles = "quantile_cont(gap, [0.25, 0.5, 0.75])"
        count_if = "count(*) FILTER (WHERE {})"
    buckets = []
    for i, low in enumerate(INTERVAL_EDGES):
        cond = f"gap >= {low * DAY_US}"
        if i + 1 < len(INTERVAL_EDGES):
            cond += f" AND gap < {INTERVAL_EDGES[i + 1] * DAY_US}"
        buckets.append(f"{count_if.format(cond)} AS b{i}")
    buyer_cols = (
        f"count(*) AS buyers, {count_if.format('n >= 2')} AS repeat_buyers, "
        f"{count_if.format(f'n >= 2 AND {second} <= {within}')} AS repeat_within, "
        "sum(n) AS orders"
    )
    return (
        f"WITH {orders},\n{per_person},\n{gaps}\n"
        f"SELECT * FROM (SELECT {buyer_cols} FROM buyers) AS b, "
        f"(SELECT count(*) AS intervals, {quartiles} AS quartiles, {', '.join(buckets)} "
        "FROM gaps) AS g"
    )


def read_repurchase(table: pa.Table, query: RepurchaseQuery) -> RepurchaseResult:
    """The typed result of :func:`repurchase_sql`'s one row."""
    row = table.to_pylist()[0]
    buyers, intervals = int(row["buyers"] or 0), int(row["intervals"] or 0)
    quartiles = row["quartiles"] if intervals else None
    days = [round(float(q) / DAY_US, 4) for q in quartiles] if quartiles else [None] * 3
    edges = [*INTERVAL_EDGES, None]
    return RepurchaseResult(
        query=query,
        buyers=buyers,
        repeat_buyers=int(row["repeat_buyers"] or 0),
        repurchase_rate=int(row["repeat_buyers"] or 0) / buyers if buyers else 0.0,
        repeat_within=int(row["repeat_within"] or 0),
        repurchase_rate_within=int(row["repeat_within"] or 0) / buyers if buyers else 0.0,
        orders=int(row["orders"] or 0),
        intervals=intervals,
        interval_days_p25=days[0],
        interval_days_median=days[1],
        interval_days_p75=days[2],
        distribution=[
            IntervalBucket(from_days=low, to_days=edges[i + 1], intervals=int(row[f"b{i}"] or 0))
            for i, low in enumerate(INTERVAL_EDGES)
        ],
    )
