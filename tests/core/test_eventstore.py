"""The event stores: append, read, compaction, reattribution, erasure, many writers.

Store-agnostic behaviours run on both stores (``store`` fixture): the embedded
Parquet/DuckDB store and the ClickHouse store on chdb. Queries are spelled per dialect.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore, EventStore
from siyu.core.eventstore_clickhouse import ChdbClient, ClickHouseEventStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def rows(workspace: str, ids: range, person: str = "p1", ident: str = "anonymous_id:a") -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "workspace_id": workspace,
                "message_id": f"m{i}",
                "type": "track",
                "event": "E",
                "person_id": person,
                "ids": [ident],
                "timestamp": T0 + timedelta(minutes=i),
                "received_at": T0,
            }
            for i in ids
        ],
        schema=EVENT_SCHEMA,
    )


@pytest.fixture(params=["duckdb", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    opened: EventStore
    if request.param == "duckdb":
        opened = DuckDBEventStore(tmp_path / "events")
    else:
        opened = ClickHouseEventStore(ChdbClient(tmp_path / "chdb"))
    yield opened
    opened.close()


def count(store: EventStore, workspace: str) -> int:
    return int(store.query(workspace, "SELECT count(*) AS n FROM events").column("n")[0].as_py())


def test_empty_store_reads_as_no_events(store: EventStore) -> None:
    assert count(store, "w") == 0
    assert store.workspaces() == []


def test_workspaces_never_see_each_other(store: EventStore) -> None:
    store.append(pa.concat_tables([rows("w1", range(3)), rows("w2", range(5))]))
    assert (count(store, "w1"), count(store, "w2")) == (3, 5)
    assert (store.count("w1"), store.count("w2")) == (3, 5)
    assert store.workspaces() == ["w1", "w2"]


def test_compaction_drops_duplicate_message_ids(store: EventStore) -> None:
    store.append(rows("w", range(10, 0, -1)))
    store.append(rows("w", range(5)))  # m1..m4 again, as a re-flush after a crash would
    # ClickHouse may already have merged the identical rows away in the background.
    assert count(store, "w") == 15 if store.dialect == "duckdb" else count(store, "w") >= 11
    assert store.compact("w") == 11
    assert count(store, "w") == 11
    assert len(store.segments("w")) == 1
    # The same message with another person (a retry resolved differently): the first
    # received stays.
    later = rows("w", range(1), person="p9").set_column(
        EVENT_SCHEMA.get_field_index("received_at"),
        "received_at",
        pa.array([T0 + timedelta(hours=1)], EVENT_SCHEMA.field("received_at").type),
    )
    store.append(later)
    assert store.compact("w") == 11
    owner = store.query("w", "SELECT person_id FROM events WHERE message_id = 'm0'")
    assert owner.column("person_id").to_pylist() == ["p1"]


def test_compaction_sorts_the_segment(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path)
    store.append(rows("w", range(10, 0, -1)))
    store.append(rows("w", range(5)))
    assert store.compact("w") == 11
    times = store.query(
        "w",
        "SELECT timestamp FROM read_parquet($f)",
        {"f": [str(tmp_path / store.segments("w")[0].name)]},
    )
    stamps = times.column("timestamp").to_pylist()
    assert stamps == sorted(stamps)


def test_small_segments_are_merged_and_big_ones_left(tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path)
    store.append(rows("w", range(100)))
    store.compact("w")
    for i in range(5):
        store.append(rows("w", range(1000 + i * 10, 1010 + i * 10)))
    assert store.compact_small("w", fan_in=6) == 0
    assert store.compact_small("w", fan_in=5) == 50
    assert [(s.rows, s.level) for s in store.segments("w")] == [(100, 0), (50, 1)]
    assert count(store, "w") == 150


def test_reattribute_moves_events_whose_strongest_id_moved(store: EventStore) -> None:
    mixed = rows("w", range(1), ident="user_id:u")  # carries user_id and the moved anon id
    mixed = mixed.set_column(
        mixed.schema.get_field_index("ids"),
        "ids",
        pa.array([["user_id:u", "anonymous_id:b"]], pa.list_(pa.string())),
    )
    store.append(pa.concat_tables([rows("w", range(1, 4), ident="anonymous_id:b"), mixed]))
    moved = store.reattribute(
        "w", "p1", {"anonymous_id:b": "p2"}, {"user_id": 1, "anonymous_id": 13}
    )
    assert moved == 3
    owners = {
        r["message_id"]: r["person_id"]
        for r in store.query("w", "SELECT message_id, person_id FROM events").to_pylist()
    }
    assert owners == {"m0": "p1", "m1": "p2", "m2": "p2", "m3": "p2"}
    assert store.count("w") == 4
    assert store.reattribute("w", "p1", {"anonymous_id:x": "p3"}, {}) == 0


def test_rewrite_without_drops_persons_ids_and_old_events(store: EventStore) -> None:
    store.append(
        pa.concat_tables(
            [
                rows("w", range(0, 4), person="p1"),
                rows("w", range(4, 8), person="p2", ident="user_id:u2"),
                rows("w", range(8, 12), person="p3"),
                rows("other", range(0, 4), person="p1"),
            ]
        )
    )
    assert store.rewrite_without("w", person_ids=["p1"]) == 4
    assert store.rewrite_without("w", id_keys=["user_id:u2"]) == 4
    assert store.rewrite_without("w", before=T0 + timedelta(minutes=10)) == 2
    assert store.rewrite_without("w", person_ids=["nobody"]) == 0
    left = store.query("w", "SELECT message_id FROM events ORDER BY message_id")
    assert left.column("message_id").to_pylist() == ["m10", "m11"]
    assert store.count("other") == 4


def _write(directory: str, start: int) -> None:
    store = DuckDBEventStore(Path(directory))
    for k in range(10):
        store.append(rows("w", range(start + k * 20, start + k * 20 + 20)))


def test_many_processes_append_without_losing_a_segment(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers: list[Any] = [
        context.Process(target=_write, args=(str(tmp_path), n * 1000)) for n in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    store = DuckDBEventStore(tmp_path)
    assert count(store, "w") == 600
    assert len(store.segments("w")) == 30


def test_a_batch_number_is_appended_once(store: EventStore, tmp_path: Path) -> None:
    assert store.append_once({1: rows("w", range(0, 3)), 2: rows("w", range(3, 5))}) == 5
    # A re-run flush reads batches 1 and 2 again beside a new batch 4.
    assert store.append_once({1: rows("w", range(0, 3)), 4: rows("w", range(5, 6))}) == 1
    assert store.append_once({2: rows("w", range(3, 5))}) == 0
    assert count(store, "w") == 6
    assert store.append_once({3: rows("w", range(6, 8))}) == 2  # a gap is not appended
    store.close()
    reopened: EventStore
    if isinstance(store, DuckDBEventStore):
        reopened = DuckDBEventStore(tmp_path / "events")
    else:
        reopened = ClickHouseEventStore(ChdbClient(tmp_path / "chdb"))
    try:
        assert reopened.append_once({3: rows("w", range(6, 8)), 4: rows("w", range(5, 6))}) == 0
        assert count(reopened, "w") == 8
    finally:
        reopened.close()


def test_appended_numbers_coalesce_into_few_ranges(tmp_path: Path) -> None:
    from siyu.core.eventstore import APPENDED_RANGES_KEPT, Manifest

    manifest = Manifest()
    for start in range(0, 10_000, 100):
        manifest.record_appended(range(start, start + 100))
    assert manifest.appended == [(0, 9_999)]
    manifest.record_appended(range(20_000, 20_000 + 2 * APPENDED_RANGES_KEPT, 2))
    assert len(manifest.appended) == APPENDED_RANGES_KEPT  # only the newest are kept
    assert manifest.was_appended(20_000 + 2 * APPENDED_RANGES_KEPT - 2)
    assert not manifest.was_appended(20_001) and not manifest.was_appended(5)
