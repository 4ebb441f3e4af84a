"""A runtime whose event store is ClickHouse (chdb): ingest → flush → analytics agree with
the embedded DuckDB store on the same events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from siyu.analytics.engine import ClickHouseEngine, Dialect, DuckDBEngine, engine_for
from siyu.analytics.models import FunnelQuery, FunnelStep
from siyu.analytics.service import run_funnel
from siyu.core.config import Settings
from siyu.core.eventstore import DuckDBEventStore
from siyu.core.eventstore_clickhouse import ChdbClient, ClickHouseEventStore
from siyu.core.runtime import Runtime, open_runtime
from siyu.pipeline.ingest import flush, ingest
from siyu.workspaces import service as workspaces
from tests.core.test_eventstore import rows

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _messages() -> list[dict[str, object]]:
    messages: list[dict[str, object]] = []
    for n in range(12):
        anon = f"anon-{n}"
        at = NOW - timedelta(days=3, minutes=n)
        steps = ["Product Viewed", "Product Added", "Order Completed"][: 1 + n % 3]
        for k, event in enumerate(steps):
            messages.append(
                {
                    "type": "track",
                    "event": event,
                    "anonymousId": anon,
                    "messageId": f"m-{n}-{k}",
                    "timestamp": (at + timedelta(minutes=10 * k)).isoformat(),
                    "properties": {"revenue": 99.5} if event == "Order Completed" else {},
                }
            )
        if n % 4 == 0:  # a later login links the anonymous visitor to a user id
            messages.append(
                {
                    "type": "identify",
                    "anonymousId": anon,
                    "userId": f"user-{n}",
                    "messageId": f"id-{n}",
                    "timestamp": (at + timedelta(hours=1)).isoformat(),
                }
            )
    return messages


def _fill(runtime: Runtime) -> str:
    with runtime.sessions() as session, session.begin():
        workspace_id = workspaces.create_workspace(session=session, name="店", now=NOW).workspace_id
    result = ingest(
        runtime=runtime, workspace_id=workspace_id, messages=_messages(), received_at=NOW
    )
    assert not result.rejected
    flush(runtime=runtime)
    return workspace_id


def test_funnel_on_a_chdb_event_store_matches_the_duckdb_store(tmp_path: Path) -> None:
    query = FunnelQuery(
        steps=[
            FunnelStep(event="Product Viewed"),
            FunnelStep(event="Product Added"),
            FunnelStep(event="Order Completed"),
        ],
        start=NOW - timedelta(days=7),
        end=NOW,
    )
    embedded = open_runtime(Settings(data_dir=tmp_path / "duck"))
    clickhouse = open_runtime(
        Settings(data_dir=tmp_path / "ch", events_url=f"chdb://{tmp_path / 'ch' / 'events'}")
    )
    try:
        assert isinstance(clickhouse.events, ClickHouseEventStore)
        assert isinstance(engine_for(embedded, Dialect.DUCKDB), DuckDBEngine)
        # The ClickHouse store answers every analysis from its own table.
        assert isinstance(engine_for(clickhouse, Dialect.DUCKDB), ClickHouseEngine)
        duck_ws, ch_ws = _fill(embedded), _fill(clickhouse)
        assert clickhouse.events.count(ch_ws) == embedded.events.count(duck_ws) == 27
        duck = run_funnel(runtime=embedded, workspace_id=duck_ws, query=query)
        ch = run_funnel(runtime=clickhouse, workspace_id=ch_ws, query=query)
        assert [s.persons for s in duck.total.steps] == [12, 8, 4]
        assert [s.persons for s in ch.total.steps] == [12, 8, 4]
        assert [s.median_seconds_from_previous for s in ch.total.steps] == [
            s.median_seconds_from_previous for s in duck.total.steps
        ]
        revenue = "SELECT sum(revenue_fen) AS fen FROM events"
        assert clickhouse.events.query(ch_ws, revenue).to_pylist() == [{"fen": 4 * 9950}]
        assert embedded.events.query(duck_ws, revenue).to_pylist() == [{"fen": 4 * 9950}]
    finally:
        clickhouse.close()
        embedded.close()


def test_engine_over_the_store_maps_many_merges_and_reads_extra_tables(tmp_path: Path) -> None:

    events = pa.concat_tables(
        [rows("w", range(i * 3, i * 3 + 3), person=f"p{i}") for i in range(6)]
    )
    duck_store = DuckDBEventStore(tmp_path / "duck")
    ch_store = ClickHouseEventStore(ChdbClient(tmp_path / "ch"))
    try:
        for store in (duck_store, ch_store):
            store.append(events)
        # More merges than are inlined: the map travels as a table.
        person_map = [("p1", "p0"), ("p2", "p0")] + [(f"gone{i}", "p5") for i in range(600)]
        vip = pa.table({"person_id": pa.array(["p0", "p5"], pa.string())})
        sql = (
            "SELECT person_id, count(*) AS n FROM events "
            "WHERE person_id IN (SELECT person_id FROM vip) GROUP BY person_id ORDER BY person_id"
        )
        duck = DuckDBEngine(duck_store).run(
            workspace_id="w", sql=sql, tables={"vip": vip}, person_map=person_map
        )
        ch = ClickHouseEngine.over(ch_store).run(
            workspace_id="w", sql=sql, tables={"vip": vip}, person_map=person_map
        )
        expected = [{"person_id": "p0", "n": 9}, {"person_id": "p5", "n": 3}]
        assert duck.to_pylist() == ch.to_pylist() == expected
    finally:
        ch_store.close()
