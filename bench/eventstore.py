"""Event store benchmark: the same flushes into DuckDBEventStore and ClickHouseEventStore (chdb).

Both stores get the same events as the ingest flush hands them over: inbox batches of
:data:`BATCH` rows, :data:`FLUSH_BATCHES` batches per ``append_once``. Peers, in the same
run on the same Arrow tables, one per store, doing the same inserts with none of the
store's bookkeeping:

* bare DuckDB: a database file, ``INSERT INTO events SELECT * FROM <arrow>`` per flush;
* bare chdb: a plain ``MergeTree`` table of the same key in the same chdb session (one
  chdb directory per process), ``INSERT … SELECT * FROM file(<flush>.arrow, Arrow)`` per
  flush (the Arrow file written inside the timing, as the store writes its Parquet).

The chdb store's append time includes, and reports apart, its question for rows a
dead flush left (``dead_flush_check_s``). Then a GMV query (orders and revenue per day) on
each, as flushed and — for the stores — after ``compact``; each time is the best of three.
``python -m bench.eventstore [events]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore
from siyu.core.eventstore_clickhouse import (
    CLICKHOUSE_EVENTS_DDL,
    ChdbClient,
    ClickHouseEventStore,
)

WORKSPACE = "ws_bench"
BATCH = 100
FLUSH_BATCHES = 50
NAMES = np.array(["Page Viewed", "Product Viewed", "Product Added", "Order Completed"])
SHARES = [0.4, 0.3, 0.2, 0.1]
T0 = datetime(2026, 11, 1, tzinfo=UTC)

GMV_DUCKDB = """
SELECT date_trunc('day', timestamp) AS day, count(*) AS orders, sum(revenue_fen) AS gmv
FROM events WHERE event = 'Order Completed' GROUP BY day ORDER BY day
"""
GMV_CLICKHOUSE = """
SELECT toStartOfDay(timestamp) AS day, count() AS orders, sum(revenue_fen) AS gmv
FROM events WHERE event = 'Order Completed' GROUP BY day ORDER BY day
"""


def make_flushes(events: int, seed: int = 11) -> list[dict[int, pa.Table]]:
    """``events`` events in arrival order, as flushes of numbered inbox batches."""
    rng = np.random.default_rng(seed)
    persons = max(events // 20, 1)
    at = np.sort(rng.integers(0, 30 * 86_400 * 1_000_000, events)) + int(T0.timestamp() * 1e6)
    stamps = pa.array(at, pa.timestamp("us", tz="UTC"))
    names = NAMES[rng.choice(len(NAMES), events, p=SHARES)]
    revenue = np.where(names == "Order Completed", rng.integers(990, 99_900, events), 0)
    person = pc.binary_join_element_wise(
        "p", pa.array(rng.integers(0, persons, events)).cast(pa.string()), ""
    )
    nulls = pa.nulls(events, pa.string())
    table = pa.table(
        {
            "workspace_id": pa.array(np.full(events, WORKSPACE)),
            "message_id": pc.binary_join_element_wise(
                "m", pa.array(np.arange(events)).cast(pa.string()), ""
            ),
            "type": pa.array(np.full(events, "track")),
            "event": pa.array(names),
            "person_id": person,
            "anonymous_id": pc.binary_join_element_wise("anonymous_id:", person, ""),
            "user_id": nulls,
            "group_id": nulls,
            "ids": pa.array([[]] * events, pa.list_(pa.string())),
            "properties": pa.array(np.full(events, '{"sku": "SKU1", "store": "S01"}')),
            "traits": nulls,
            "context": nulls,
            "channel": pa.array(np.full(events, "mp")),
            "campaign": nulls,
            "revenue_fen": pa.array(revenue, pa.int64(), mask=revenue == 0),
            "timestamp": stamps,
            "received_at": stamps,
            "sent_at": pa.nulls(events, pa.timestamp("us", tz="UTC")),
        },
        schema=EVENT_SCHEMA,
    )
    batches = [table.slice(i, BATCH) for i in range(0, events, BATCH)]
    return [
        {seq + 1: batches[seq] for seq in range(i, min(i + FLUSH_BATCHES, len(batches)))}
        for i in range(0, len(batches), FLUSH_BATCHES)
    ]


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _best(work: Callable[[], pa.Table], rounds: int = 3) -> tuple[float, pa.Table]:
    runs = [_timed(work) for _ in range(rounds)]
    return min(r[0] for r in runs), runs[-1][1]


def _gmv(result: pa.Table) -> tuple[int, int]:
    return int(pc.sum(result.column("orders")).as_py()), int(pc.sum(result.column("gmv")).as_py())


def run(events: int = 1_000_000) -> dict[str, Any]:
    flushes = make_flushes(events)
    tables = [pa.concat_tables(f.values()) for f in flushes]
    with tempfile.TemporaryDirectory(prefix="siyu-bench-es-") as tmp:
        root = Path(tmp)
        figures: dict[str, dict[str, float]] = {}
        answers: dict[str, tuple[int, int]] = {}

        duck = DuckDBEventStore(root / "events")
        seconds, _ = _timed(lambda: [duck.append_once(f) for f in flushes])
        gmv_s, found = _best(lambda: duck.query(WORKSPACE, GMV_DUCKDB))
        answers["duckdb_store"] = _gmv(found)
        duck.compact(WORKSPACE)
        compacted_s, found = _best(lambda: duck.query(WORKSPACE, GMV_DUCKDB))
        answers["duckdb_store_compacted"] = _gmv(found)
        figures["duckdb_store"] = _figures(events, seconds, gmv_s, compacted_s)
        duck.close()

        bare = duckdb.connect(str(root / "bare.duckdb"))
        bare.register("flush", tables[0])
        bare.execute("CREATE TABLE events AS SELECT * FROM flush LIMIT 0")

        def bare_duck_insert() -> None:
            for rows in tables:
                bare.register("flush", rows)
                bare.execute("INSERT INTO events SELECT * FROM flush")

        seconds, _ = _timed(bare_duck_insert)
        gmv_s, found = _best(lambda: bare.sql(GMV_DUCKDB).to_arrow_table())
        answers["bare_duckdb"] = _gmv(found)
        figures["bare_duckdb"] = _figures(events, seconds, gmv_s)
        bare.close()

        client = ChdbClient(root / "chdb")
        house = ClickHouseEventStore(client)
        checking = [0.0]
        check = house._without_inserted

        def timed_check(fresh: list[int], rows: pa.Table) -> tuple[pa.Table, int]:
            # Only timed: what asking for rows of a dead flush costs each flush.
            spent, answer = _timed(lambda: check(fresh, rows))
            checking[0] += spent
            return answer  # type: ignore[no-any-return]

        house._without_inserted = timed_check  # type: ignore[method-assign]
        seconds, _ = _timed(lambda: [house.append_once(f) for f in flushes])
        gmv_s, found = _best(lambda: house.query(WORKSPACE, GMV_CLICKHOUSE))
        answers["chdb_store"] = _gmv(found)
        house.compact(WORKSPACE)
        compacted_s, found = _best(lambda: house.query(WORKSPACE, GMV_CLICKHOUSE))
        answers["chdb_store_compacted"] = _gmv(found)
        figures["chdb_store"] = _figures(events, seconds, gmv_s, compacted_s)
        figures["chdb_store"]["dead_flush_check_s"] = checking[0]

        # The bare peer shares the store's session: chdb opens one directory per process.
        client.command("CREATE DATABASE IF NOT EXISTS bare")
        client.command(
            CLICKHOUSE_EVENTS_DDL.replace("EXISTS events", "EXISTS bare.events")
            .replace("ReplacingMergeTree(first_received)", "MergeTree")
            .split("SETTINGS")[0]
        )

        def bare_chdb_insert() -> None:
            for n, rows in enumerate(tables):
                path = root / f"flush-{n}.arrow"
                with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as w:
                    w.write_table(rows)
                client.command(
                    "INSERT INTO bare.events SETTINGS max_threads = 1, max_insert_threads = 1 "
                    f"SELECT * FROM file('{path}', Arrow)"
                )
                path.unlink()

        seconds, _ = _timed(bare_chdb_insert)
        bare_gmv = GMV_CLICKHOUSE.replace("FROM events", "FROM bare.events")
        gmv_s, found = _best(lambda: client.query_arrow(bare_gmv))
        answers["bare_chdb"] = _gmv(found)
        figures["bare_chdb"] = _figures(events, seconds, gmv_s)
        house.close()

    if len(set(answers.values())) != 1:
        raise AssertionError(f"the stores disagree on GMV: {answers}")
    orders, gmv = answers["duckdb_store"]
    d, c = figures["duckdb_store"], figures["chdb_store"]
    bd, bc = figures["bare_duckdb"], figures["bare_chdb"]
    return {
        "events": events,
        "flushes": len(flushes),
        "rows_per_flush": BATCH * FLUSH_BATCHES,
        "orders": orders,
        "gmv_fen": gmv,
        **figures,
        "ratios": {
            # > 1: chdb's store is faster than DuckDB's at the same thing.
            "append_chdb_store_vs_duckdb_store": d["append_s"] / c["append_s"],
            "gmv_chdb_store_vs_duckdb_store": d["gmv_ms"] / c["gmv_ms"],
            "gmv_compacted_chdb_store_vs_duckdb_store": (
                d["gmv_compacted_ms"] / c["gmv_compacted_ms"]
            ),
            # < 1: the store's share of the bare engine's speed.
            "append_duckdb_store_vs_bare_duckdb": bd["append_s"] / d["append_s"],
            "append_chdb_store_vs_bare_chdb": bc["append_s"] / c["append_s"],
            "gmv_duckdb_store_vs_bare_duckdb": bd["gmv_ms"] / d["gmv_ms"],
            "gmv_chdb_store_vs_bare_chdb": bc["gmv_ms"] / c["gmv_ms"],
        },
    }


def _figures(
    events: int, append_s: float, gmv_s: float, compacted_s: float | None = None
) -> dict[str, float]:
    figures = {
        "append_s": append_s,
        "events_per_s": events / append_s,
        "gmv_ms": gmv_s * 1000,
    }
    if compacted_s is not None:
        figures["gmv_compacted_ms"] = compacted_s * 1000
    return figures


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=2))
