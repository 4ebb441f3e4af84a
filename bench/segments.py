"""Segment evaluation: siyu's compiled SQL vs hand-written SQL of the same logic, on DuckDB.

``python -m bench.segments [persons]`` writes ``bench/results/segments.json``. Generates
``persons`` customers (default 10 million) with profiles, a city trait, an age trait, tags and
~3 events each, as native DuckDB tables shaped like the relations siyu ships (``seg_*`` and
``events``). Then times the five-condition segment

    city in (杭州, 上海)                               -- trait
    AND total_spend_fen ≥ 10000                         -- computed trait
    AND ≥ 2 "Order Completed" in 30 days, revenue ≥ 50  -- event behaviour with a filter
    AND added to cart in the last 7 days                -- event behaviour
    AND NOT tagged 流失风险                               -- tag

compiled by :func:`siyu.segments.compile.to_sql`, against the raw SQL an engineer would write
(joins, semi and anti joins), both on the same connection; best of three rounds in which
the two take turns.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from siyu.segments.compile import to_sql
from siyu.segments.dialects import Dialect, string, timestamp
from siyu.segments.models import CONDITION

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
DEFINITION = {
    "type": "all",
    "of": [
        {"type": "trait", "name": "city", "op": "in", "value": ["杭州", "上海"]},
        {"type": "computed", "name": "total_spend_fen", "op": "gte", "value": 10000},
        {
            "type": "event",
            "event": "Order Completed",
            "count": {"op": "gte", "value": 2},
            "window": {"days": 30},
            "where": [{"path": "revenue_fen", "op": "gte", "value": 5000}],
        },
        {"type": "event", "event": "Add To Cart", "window": {"days": 7}},
        {"type": "not", "condition": {"type": "tag", "tag": "tag_churn_risk"}},
    ],
}


def _raw_sql() -> str:
    d = Dialect.DUCKDB
    since30 = timestamp(NOW - timedelta(days=30), d)
    since7 = timestamp(NOW - timedelta(days=7), d)
    now = timestamp(NOW, d)
    return f"""
    WITH big AS (
        SELECT person_id FROM events
        WHERE type = 'track' AND event = 'Order Completed' AND timestamp >= {since30}
          AND timestamp <= {now} AND revenue_fen >= 5000
        GROUP BY person_id HAVING count(*) >= 2),
    cart AS (
        SELECT DISTINCT person_id FROM events
        WHERE type = 'track' AND event = 'Add To Cart' AND timestamp >= {since7}
          AND timestamp <= {now})
    SELECT b.person_id FROM big AS b
    JOIN seg_profiles AS p ON p.person_id = b.person_id AND p.total_spend_fen >= 10000
    JOIN seg_traits AS t ON t.person_id = b.person_id AND t.name = 'city'
         AND t.value_str IN ({string("杭州", d)}, {string("上海", d)})
    SEMI JOIN cart AS c ON c.person_id = b.person_id
    ANTI JOIN seg_tags AS g ON g.person_id = b.person_id AND g.tag_id = 'tag_churn_risk'
    """


def generate(con: duckdb.DuckDBPyConnection, persons: int) -> int:
    """Fill the relations; returns the number of events."""
    con.execute("CREATE MACRO h(i, k) AS CAST(hash(i, k) % 1000000007 AS BIGINT)")
    pid = "'p' || lpad(CAST(i AS VARCHAR), 9, '0')"
    con.execute(f"CREATE TABLE seg_persons AS SELECT {pid} AS person_id FROM range({persons}) t(i)")
    now = timestamp(NOW, Dialect.DUCKDB)
    con.execute(
        f"""CREATE TABLE seg_profiles AS SELECT {pid} AS person_id,
            TIMESTAMPTZ '2025-01-01 00:00:00+00' AS first_seen, {now} AS last_seen,
            h(i, 1) % 20 AS event_count, h(i, 2) % 5 AS order_count,
            h(i, 3) % 40000 AS total_spend_fen, {now} AS last_order_at,
            ['wechat', 'douyin', NULL][1 + h(i, 4) % 3] AS first_channel,
            CAST(NULL AS VARCHAR) AS first_campaign
        FROM range({persons}) t(i)"""
    )
    con.execute(
        f"""CREATE TABLE seg_traits AS
        SELECT {pid} AS person_id, 'city' AS name,
               ['杭州', '上海', '北京', '成都', '广州'][1 + h(i, 5) % 5] AS value_str,
               CAST(NULL AS DOUBLE) AS value_num
        FROM range({persons}) t(i)
        UNION ALL
        SELECT {pid}, 'age', NULL, CAST(18 + h(i, 6) % 50 AS DOUBLE) FROM range({persons}) t(i)"""
    )
    con.execute(
        f"""CREATE TABLE seg_tags AS SELECT {pid} AS person_id,
            ['tag_churn_risk', 'tag_vip', 'tag_tea'][1 + h(i, 7) % 3] AS tag_id
        FROM range({persons}) t(i) WHERE h(i, 8) % 3 = 0"""
    )
    con.execute("CREATE TABLE seg_identifiers (person_id VARCHAR, id_type VARCHAR)")
    con.execute("CREATE TABLE seg_members (person_id VARCHAR, segment_id VARCHAR)")
    epid = "'p' || lpad(CAST(i // 3 AS VARCHAR), 9, '0')"
    con.execute(
        f"""CREATE TABLE events AS SELECT {epid} AS person_id, 'track' AS type,
            ['Order Completed', 'Order Completed', 'Add To Cart', 'Product Viewed',
             'Product Viewed'][1 + h(i, 9) % 5] AS event,
            {now} - to_seconds(h(i, 10) % (90 * 86400)) AS timestamp,
            h(i, 11) % 200 * 100 AS revenue_fen,
            '{{}}' AS properties
        FROM range({persons * 3}) t(i) ORDER BY person_id, timestamp"""
    )
    return persons * 3


def _best(
    con: duckdb.DuckDBPyConnection, sqls: dict[str, str], runs: int = 3
) -> dict[str, tuple[float, set[str]]]:
    """Each query's best time and selected persons over ``runs`` rounds; the queries take
    turns within a round, so a burst of load on a shared machine hits both alike."""
    best: dict[str, tuple[float, set[str]]] = {}
    for _ in range(runs):
        for name, sql in sqls.items():
            started = time.perf_counter()
            rows = con.sql(sql).fetchall()
            elapsed = time.perf_counter() - started
            best[name] = (min(elapsed, best.get(name, (elapsed, set()))[0]), {r[0] for r in rows})
    return best


def run(persons: int = 10_000_000, threads: int = 2) -> dict[str, Any]:
    """Generate, then time compiled vs raw SQL; the two must select the same persons."""
    con = duckdb.connect(":memory:", config={"threads": threads})
    started = time.perf_counter()
    events = generate(con, persons)
    generated = time.perf_counter() - started
    compiled = to_sql(CONDITION.validate_python(DEFINITION), "duckdb", now=NOW).sql
    best = _best(con, {"siyu": compiled, "raw": _raw_sql()})
    (siyu_s, siyu_rows), (raw_s, raw_rows) = best["siyu"], best["raw"]
    if siyu_rows != raw_rows:
        raise AssertionError(f"compiled {len(siyu_rows)} ≠ raw {len(raw_rows)} members")
    return {
        "persons": persons,
        "events": events,
        "threads": threads,
        "members": len(siyu_rows),
        "generate_s": round(generated, 2),
        "siyu_compiled_s": round(siyu_s, 3),
        "raw_sql_s": round(raw_s, 3),
        "ratio_vs_raw": round(siyu_s / raw_s, 3),
    }


def main(argv: list[str]) -> None:
    result = run(int(argv[0]) if argv else 10_000_000)
    out = Path(__file__).parent / "results" / "segments.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(result)


if __name__ == "__main__":
    main(sys.argv[1:])
