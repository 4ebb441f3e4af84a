"""The pipeline's event-store queries, spelled for DuckDB and for ClickHouse, give the same
rows on the same events (the embedded store and the ClickHouse store on chdb)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore, EventStore
from siyu.core.eventstore_clickhouse import ChdbClient, ClickHouseEventStore
from siyu.demo.content_seed import RECENT_ORDERS_SQL
from siyu.demo.loyalty import _ACCEPTED_SQL, _STORE_FIRST_SQL
from siyu.journeys.dryrun import _ENTRIES_SQL
from siyu.pipeline.activities import activity_event_counts
from siyu.pipeline.community_health import orders_by_person
from siyu.pipeline.persons import stored_events_of
from siyu.pipeline.privacy import subject_events
from siyu.pipeline.referral import live_code_event_rows
from siyu.recommend.interactions import catalogue_of, read_rows

T0 = datetime(2026, 11, 1, tzinfo=UTC)
W = "w"
HOUR = timedelta(hours=1)


def _event(n: int, event: str | None, person: str, **extra: Any) -> dict[str, Any]:
    return {
        "workspace_id": W,
        "message_id": extra.pop("message_id", f"m{n:03d}"),
        "type": extra.pop("type", "track"),
        "event": event,
        "person_id": person,
        "ids": [f"anonymous_id:{person}"],
        "properties": json.dumps(extra.pop("properties", {})),
        "context": json.dumps(extra.pop("context", {})),
        "timestamp": T0 + timedelta(minutes=n, microseconds=n),
        "received_at": T0,
        **extra,
    }


EVENTS = [
    _event(1, "Activity Viewed", "p1", properties={"activity_id": "a1"}),
    _event(2, "Activity Viewed", "p2", properties={"activity_id": "a1"}),
    _event(3, "Activity Viewed", "p2", properties={"activity_id": "a1"}),
    _event(4, "Order Completed", "p2", properties={"activity_id": "a1"}, revenue_fen=1990),
    _event(5, "Order Completed", "p3", properties={"activity_id": "a2"}, revenue_fen=500),
    _event(6, "Order Completed", "p1", revenue_fen=100),
    _event(7, "Live Code Scanned", "p1", context={"campaign": {"content": "scene-1"}}),
    _event(8, "Live Code Contact Added", "p2", properties={"scene": "scene-2"}),
    _event(9, "Live Code Scanned", "p3"),  # no scene
    _event(10, "Live Code Scanned", "p3", message_id="lc:own"),  # written by siyu itself
    _event(11, None, "p1", type="identify"),
    _event(12, "Order Completed", "p1", revenue_fen=None),
    _event(13, "Referral Accepted", "p4", properties={"referrer_member_id": "M1"}),
    _event(14, "Referral Accepted", "p5"),
    _event(15, "Store Visit", "p5", channel="store"),
    _event(16, "Store Visit", "p4", channel="store"),
    _event(17, "Store Visit", "p5", channel="store"),
    _event(
        20, "Product Viewed", "p6", properties={"product_id": "P1", "name": "杯", "price": 12.5}
    ),
    _event(21, "Product Added", "p6", properties={"sku": "S2", "category": None}),
    _event(
        22,
        "Order Completed",
        "p6",
        properties={
            "products": [
                {"product_id": "P1", "price": "12.5", "category": "家居"},
                {"name": "只有名字", "price": 3},
            ]
        },
    ),
    _event(23, "Product Viewed", "p7", properties={"product_id": 42}),
    # m020 again, received later (a client retry): read once
    _event(20, "Product Viewed", "p6", properties={"product_id": "P1"}, received_at=T0 + HOUR),
]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[EventStore, EventStore]]:
    duck = DuckDBEventStore(tmp_path / "duck")
    ch = ClickHouseEventStore(ChdbClient(tmp_path / "chdb"))
    table = pa.Table.from_pylist(EVENTS, schema=EVENT_SCHEMA)
    for store in (duck, ch):
        store.append(table)
    yield duck, ch
    ch.close()


def test_orders_by_person_agree(stores: tuple[EventStore, EventStore]) -> None:
    since, until = T0, T0 + timedelta(minutes=12)  # event 12 is outside
    duck, ch = (orders_by_person(s, W, since, until) for s in stores)
    assert duck == ch == {"p1": (1, 100), "p2": (1, 1990), "p3": (1, 500)}


def test_activity_event_counts_agree(stores: tuple[EventStore, EventStore]) -> None:
    duck, ch = (
        sorted((r["event"], r["persons"], r["events"], r["gmv"]) for r in
               activity_event_counts(s, W, "a1"))
        for s in stores
    )  # fmt: skip
    assert duck == ch == [("Activity Viewed", 2, 3, 0), ("Order Completed", 1, 1, 1990)]


def test_live_code_rows_agree(stores: tuple[EventStore, EventStore]) -> None:
    duck, ch = (
        [(r["message_id"], r["event"], r["person_id"], r["scene"]) for r in
         live_code_event_rows(s, W, T0, T0 + timedelta(days=1))]
        for s in stores
    )  # fmt: skip
    assert (
        duck
        == ch
        == [
            ("m007", "Live Code Scanned", "p1", "scene-1"),
            ("m008", "Live Code Contact Added", "p2", "scene-2"),
            ("m009", "Live Code Scanned", "p3", None),
        ]
    )


def test_stored_events_of_persons_agree(stores: tuple[EventStore, EventStore]) -> None:
    for before in (None, T0 + timedelta(minutes=11, microseconds=11)):
        duck, ch = (stored_events_of(s, W, ["p1", "p3"], limit=3, before=before) for s in stores)
        assert duck == ch
        assert len(duck) == 3
    newest = stored_events_of(stores[1], W, ["p1"], limit=2, before=None)
    assert [r["message_id"] for r in newest] == ["m012", "m011"]
    assert newest[1]["type"] == "identify" and newest[1]["event"] is None


@pytest.mark.parametrize("kind,event", [("track", "Order Completed"), ("identify", None)])
def test_journey_dry_run_entries_agree(
    stores: tuple[EventStore, EventStore], kind: str, event: str | None
) -> None:
    params = {"type": kind, "event": event, "since": T0, "until": T0 + timedelta(days=1)}
    duck, ch = (s.query(W, _ENTRIES_SQL[s.dialect], params).to_pylist() for s in stores)
    assert duck == ch
    assert len(duck) == (5 if event else 1)


def test_demo_queries_agree(stores: tuple[EventStore, EventStore]) -> None:
    def rows(sql: dict[str, str], params: dict[str, Any] | None = None) -> list[list[Any]]:
        found = [s.query(W, sql[s.dialect], params or {}).to_pylist() for s in stores]
        assert found[0] == found[1]
        return [list(r.values()) for r in found[0]]

    accepted = rows(_ACCEPTED_SQL)
    assert [(r[0], r[1]) for r in accepted] == [("p4", "M1"), ("p5", None)]
    first = rows(_STORE_FIRST_SQL)
    assert [r[0] for r in first] == ["p5", "p4"]
    recent = rows(RECENT_ORDERS_SQL, {"since": T0 + timedelta(minutes=5)})
    assert [r[0] for r in recent] == ["p3", "p1", "p1", "p6"]


def test_recommend_interaction_rows_agree(stores: tuple[EventStore, EventStore]) -> None:
    def read(store: EventStore, persons: list[str] | None) -> list[tuple[Any, ...]]:
        table = read_rows(
            store, workspace_id=W, since=T0, until=T0 + timedelta(days=1), person_ids=persons
        )
        return sorted(tuple(r.values()) for r in table.to_pylist())

    duck, ch = (read(s, None) for s in stores)
    assert duck == ch
    assert [(r[0], r[4], r[7]) for r in duck] == [
        ("p6", "P1", "12.5"),  # the order's lines
        ("p6", "只有名字", "3"),
        ("p6", "S2", None),
        ("p6", "P1", "12.5"),  # the view received first, not its retry
        ("p7", "42", None),
    ]
    assert read(stores[0], ["p7"]) == read(stores[1], ["p7"]) != []
    table = read_rows(stores[1], workspace_id=W, since=T0, until=T0 + timedelta(days=1))
    assert catalogue_of(table)["P1"].price_fen == 1250


def test_data_subject_events_agree(stores: tuple[EventStore, EventStore]) -> None:
    duck, ch = (subject_events(s, W, ["p4"], ["anonymous_id:p7"]) for s in stores)
    assert duck == ch
    assert [r["message_id"] for r in duck] == ["m013", "m016", "m023"]
