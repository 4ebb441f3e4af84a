"""What only the ClickHouse store (on chdb) must show: erased values leave the disk, a flush
that died between its insert and its record appends nothing twice, URLs and parameters."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from siyu.core.errors import InvalidInputError, StoreError
from siyu.core.eventstore import open_event_store
from siyu.core.eventstore_clickhouse import ChdbClient, ClickHouseEventStore
from tests.core.test_eventstore import rows


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseEventStore]:
    opened = ClickHouseEventStore(ChdbClient(tmp_path / "chdb"))
    yield opened
    opened.close()


def _files_holding(directory: Path, needle: bytes) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_erased_events_leave_the_disk(store: ClickHouseEventStore, tmp_path: Path) -> None:
    secret = "person-ERASE-ME-0001"
    store.append(pa.concat_tables([rows("w", range(3), person=secret), rows("w", range(3, 5))]))
    assert _files_holding(tmp_path / "chdb", secret.encode())  # the probe can see it
    time.sleep(2)  # idle, as a real store is between erasures
    assert store.rewrite_without("w", person_ids=[secret]) == 3
    # Returned: the rewritten-away rows, and the mutation's record, hold no trace of it.
    assert _files_holding(tmp_path / "chdb", secret.encode()) == []
    assert store.count("w") == 2


class FailingRecord:
    """The real chdb client, except that recording batch numbers dies once (a crash)."""

    def __init__(self, client: ChdbClient) -> None:
        self.client = client
        self.armed = True

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.client.command(sql, parameters)

    def insert_arrow(
        self, table: str, rows: pa.Table, settings: Mapping[str, Any] | None = None
    ) -> None:
        if table.endswith("appended_batches") and self.armed:
            self.armed = False
            raise StoreError("process died")
        self.client.insert_arrow(table, rows, settings)

    def query_arrow(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        return self.client.query_arrow(sql, parameters, tables)

    def close(self) -> None:
        self.client.close()


def test_a_flush_that_died_before_its_record_appends_nothing_twice(tmp_path: Path) -> None:
    store = ClickHouseEventStore(FailingRecord(ChdbClient(tmp_path / "chdb")))
    try:
        batches = {7: rows("w", range(0, 3)), 8: rows("w", range(3, 5))}
        with pytest.raises(StoreError):
            store.append_once(batches)
        assert store.count("w") == 5  # the events went in, the numbers were not recorded
        store.append_once(batches)  # the next flush reads the same batches again
        assert store.count("w") == 5  # the insert's deduplication token dropped the repeat
        assert store.append_once(batches) == 0
    finally:
        store.close()


def test_urls_and_parameters(tmp_path: Path) -> None:
    opened = open_event_store(f"chdb://{tmp_path / 'chdb'}")
    try:
        assert isinstance(opened, ClickHouseEventStore) and opened.dialect == "clickhouse"
        opened.append(rows("w", range(4)))
        found = opened.query(
            "w", "SELECT count() AS n FROM events WHERE message_id != {m:String}", {"m": "m0"}
        )
        assert found.to_pylist() == [{"n": 3}]
        with pytest.raises(InvalidInputError):
            opened.query("w", "SELECT 1 WHERE ? = 1", [1])
        with pytest.raises(InvalidInputError):
            opened.query("w", "SELECT 1", {"siyu_workspace": "other"})
    finally:
        opened.close()
    with pytest.raises(StoreError):
        open_event_store("mysql://x")
