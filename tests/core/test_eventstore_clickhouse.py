"""What only the ClickHouse store (on chdb) must show: erased values leave the disk, a flush
that died between its insert and its record appends nothing twice, URLs and parameters."""

from __future__ import annotations

import subprocess
import sys
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


_KILLED_AT_RECORD = """
import os, sys
from pathlib import Path
from siyu.core.eventstore_clickhouse import ChdbClient, ClickHouseEventStore
from tests.core.test_eventstore import rows

class DiesAtRecord(ChdbClient):
    def insert_arrow(self, table, rows, settings=None):
        if table.endswith("appended_batches"):
            os._exit(9)  # the process is gone between the insert and the record
        super().insert_arrow(table, rows, settings)

store = ClickHouseEventStore(DiesAtRecord(Path(sys.argv[1])))
store.append_once({7: rows("w", range(0, 3)), 8: rows("w", range(3, 5))})
"""

BATCHES = {7: rows("w", range(0, 3)), 8: rows("w", range(3, 5)), 9: rows("w", range(5, 7))}


def _seen(store: ClickHouseEventStore) -> tuple[int, int]:
    """(rows, distinct message ids) a reader of ``events`` sees right now, before any merge."""
    found = store.query("w", "SELECT count() AS n, uniqExact(message_id) AS u FROM events")
    return int(found.column("n")[0].as_py()), int(found.column("u")[0].as_py())


@pytest.mark.parametrize(
    "retries",
    [[[7, 8, 9]], [[8, 9], [7]], [[9], [8, 7]]],
    ids=["superset", "subset-and-new-then-rest", "new-then-rest"],
)
def test_a_flush_killed_before_its_record_and_retried_over_other_batches_adds_no_copy(
    tmp_path: Path, retries: list[list[int]]
) -> None:
    directory = tmp_path / "chdb"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_RECORD, str(directory)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]
    store = ClickHouseEventStore(ChdbClient(directory))
    try:
        assert _seen(store) == (5, 5)  # batches 7 and 8 went in, their numbers did not
        appended = 0
        for numbers in retries:
            appended += store.append_once({n: BATCHES[n] for n in numbers})
            rows_seen, ids_seen = _seen(store)
            assert rows_seen == ids_seen  # no reader ever sees a message twice
        assert appended == 2  # only batch 9's rows were new
        assert _seen(store) == (7, 7)
        assert store.append_once(BATCHES) == 0  # every number is recorded now
    finally:
        store.close()


def test_a_batch_whose_insert_landed_only_in_part_gets_the_rest(
    store: ClickHouseEventStore,
) -> None:
    # A dead insert split into parts may leave some of a batch's rows: the retry adds the rest.
    landed = rows("w", range(0, 2)).append_column("batch_seq", pa.array([7, 7], pa.uint64()))
    store.client.insert_arrow(store.table, landed, {"insert_allow_materialized_columns": 1})
    assert store.append_once({7: rows("w", range(0, 5))}) == 3
    assert _seen(store) == (5, 5)
    tagged = store.client.query_arrow(f"SELECT DISTINCT batch_seq AS b FROM {store.table}")
    assert tagged.column("b").to_pylist() == [7]
    # The tag is stored but stays out of SELECT *, as on DuckDB.
    whole = store.client.query_arrow(f"SELECT * FROM {store.table} LIMIT 1")
    assert whole.column_names == store.query("w", "SELECT * FROM events LIMIT 1").column_names
    assert "batch_seq" not in whole.column_names


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


def test_reattributed_rows_keep_their_batch(store: ClickHouseEventStore) -> None:
    # A dead flush's rows moved to another person must still be found by their batch.
    store.append_once({7: rows("w", range(0, 3), ident="anonymous_id:b")})
    assert store.reattribute("w", "p1", {"anonymous_id:b": "p2"}, {"anonymous_id": 13}) == 3
    tagged = store.client.query_arrow(
        f"SELECT person_id AS p, batch_seq AS b FROM {store.table} ORDER BY message_id"
    )
    assert tagged.to_pylist() == [{"p": "p2", "b": 7}] * 3
