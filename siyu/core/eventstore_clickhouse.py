"""The event store in ClickHouse: a server at scale, or chdb (ClickHouse in process) on one box.

One table ``events`` (:data:`CLICKHOUSE_EVENTS_DDL`) holds every workspace's events, and
a small table ``appended_batches`` the inbox batch numbers already appended. The store
talks to ClickHouse through :class:`ClickHouseClient` (statements, Arrow in, Arrow out),
filled by :class:`ConnectClient` (a server via ``clickhouse-connect``, optional extra
``clickhouse``) and :class:`ChdbClient` (a ``chdb`` session keeping MergeTree tables in a
directory: tests and single-machine use; one process at a time may open that directory).

ClickHouse has no multi-statement transactions, so each guarantee rests on one statement:

* **appended once** — ``append_once`` inserts all fresh batches in ONE insert (ClickHouse
  makes an insert of up to ``max_insert_block_size`` rows one part per partition), every
  row tagged with its inbox batch number (column ``batch_seq``, 0 for direct appends), then
  records the numbers. A crash in between leaves rows whose numbers are not recorded, and
  the retry may read a different set of batches (new ones arrived, another flusher took
  some). So before inserting, a flush asks which (``batch_seq``, ``message_id``) of its
  unrecorded batches the table already holds and inserts only the others: a retry over any
  set of batches never adds a second copy, so no reader ever sees one — exact per row, even
  if the dead insert left only some of its parts. The question is cheap: a ``minmax`` skip
  index on ``batch_seq`` prunes every part but the newest (numbers only grow), plus the
  workspaces' key prefix. The insert also carries an ``insert_deduplication_token`` (the
  numbers and the rows already found) for a dead client whose insert the server still
  finishes. (One part per batch would make a per-batch token enough, but a flush carries
  up to 2,000 batches and that many parts per second is what ClickHouse cannot merge away;
  ``FINAL`` at every read would cost every query for a crash's sake.)
* **rewrites** (reattribution, duplicate clean-up) insert the new rows first and then delete
  the old ones with a lightweight ``DELETE`` (``mutations_sync``): a reader between the two
  may see both copies; a crash between them leaves both, and compaction keeps the newest
  (the ``stored_at`` version column).
* **erasure and retention** use ``ALTER TABLE … DELETE`` with ``mutations_sync = 2``, a
  real mutation that rewrites every part holding a matching row before it returns. A
  lightweight ``DELETE`` would only mask the rows until some later merge, so the erased
  values would stay on disk for an unbounded time. The replaced parts are dropped by the
  cleanup thread after ``old_parts_lifetime`` (1 s; ``fsync_after_insert`` makes the short
  lifetime safe; ``max_cleanup_delay_period = 1`` keeps the idle thread from backing off
  to five minutes), a query still reading them keeps them until it ends; the store waits
  until the replaced parts have left ``system.parts``. The mutation's own record
  (``mutation_N.txt``, kept on disk) names persons and ids only by SipHash.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from siyu.core.errors import InvalidInputError, StoreError
from siyu.core.eventstore import EVENT_SCHEMA, Segment

PARTITIONS = 16
"""Workspaces are spread over this many partitions (by hash), so compacting one workspace
merges one partition, not the table, without a partition per workspace."""

COLUMNS = ", ".join(EVENT_SCHEMA.names)

CLICKHOUSE_EVENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS events (
    workspace_id LowCardinality(String),
    message_id String,
    type LowCardinality(String),
    event LowCardinality(Nullable(String)),
    person_id String,
    anonymous_id Nullable(String),
    user_id Nullable(String),
    group_id Nullable(String),
    ids Array(String),
    properties Nullable(String),
    traits Nullable(String),
    context Nullable(String),
    channel LowCardinality(Nullable(String)),
    campaign Nullable(String),
    revenue_fen Nullable(Int64),
    timestamp DateTime64(6, 'UTC'),
    received_at DateTime64(6, 'UTC'),
    sent_at Nullable(DateTime64(6, 'UTC')),
    batch_seq UInt64 MATERIALIZED 0,
    stored_at DateTime64(6, 'UTC') MATERIALIZED now64(6),
    first_received UInt64 MATERIALIZED
        toUInt64(18446744073709551615) - toUInt64(toUnixTimestamp64Micro(received_at)),
    INDEX batch_seq_range batch_seq TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree(first_received)
PARTITION BY cityHash64(workspace_id) % {PARTITIONS}
ORDER BY (workspace_id, person_id, timestamp, message_id)
SETTINGS non_replicated_deduplication_window = 1000, old_parts_lifetime = 1,
    cleanup_delay_period = 1, max_cleanup_delay_period = 1, cleanup_delay_period_random_add = 0,
    fsync_after_insert = 1, fsync_part_directory = 1
"""
"""The events table: ordered for per-person scans (funnels, retention), the key ending in
``message_id`` so re-inserted copies collapse, the one received first staying (the version
``first_received`` runs backwards with ``received_at``), as DuckDB's compaction keeps it.
``stored_at`` tells a rewritten row from the copy it replaced; ``batch_seq`` is the inbox
batch a row came in (0: a direct append). None of the three is in ``SELECT *``."""

APPENDED_DDL = """
CREATE TABLE IF NOT EXISTS appended_batches (
    number UInt64,
    recorded_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree ORDER BY number
TTL recorded_at + INTERVAL 30 DAY
"""
"""Inbox batch numbers already appended (the newest month: a batch is retried by the very
next flush that reads it)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WITH = re.compile(r"^\s*WITH\s", re.IGNORECASE)


def with_definitions(definitions: Sequence[str], sql: str) -> str:
    """Prefix ``sql`` with CTE ``definitions`` (``name AS (…)``), merging a leading WITH."""
    if not definitions:
        return sql
    joined = ",\n".join(definitions)
    match = _WITH.match(sql)
    if match:
        return f"WITH {joined},\n{sql[match.end() :]}"
    return f"WITH {joined}\n{sql}"


class ClickHouseClient(Protocol):
    """The little of ClickHouse the store and the analytics engine use."""

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""

    def insert_arrow(
        self, table: str, rows: pa.Table, settings: Mapping[str, Any] | None = None
    ) -> None:
        """Insert ``rows`` (its column names name the table's columns) in one insert."""

    def query_arrow(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        """Run ``sql`` (``{name:Type}`` parameters) reading ``tables`` by name; Arrow out."""

    def close(self) -> None:
        """Release the connection."""


def _settings_clause(settings: Mapping[str, Any] | None) -> str:
    if not settings:
        return ""
    parts = []
    for key, value in settings.items():
        if not _NAME.match(key):
            raise InvalidInputError(f"bad setting name {key!r}", field="settings")
        if isinstance(value, int):
            parts.append(f"{key} = {value}")
        else:
            text = str(value).replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{key} = '{text}'")
    return " SETTINGS " + ", ".join(parts)


def _param_text(value: Any) -> Any:
    """A parameter as chdb wants it: arrays in ClickHouse's text form, strings quoted inside,
    NULL as ``\\N``."""
    if value is None:
        return "\\N"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_element_text(v) for v in value) + "]"
    return value


def utc_text(value: datetime) -> str:
    """An aware datetime as ClickHouse reads a ``DateTime64(6, 'UTC')`` parameter."""
    if value.tzinfo is None:
        raise InvalidInputError("datetimes must be timezone-aware", field="params")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _element_text(value: Any) -> str:
    if isinstance(value, str):
        return _file_literal(value)
    if isinstance(value, list | tuple):
        return str(_param_text(value))
    return str(value)


def _file_literal(path: str) -> str:
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbClient:
    """A chdb session over a directory (ClickHouse's MergeTree files in process).

    chdb runs one embedded server per process, on one directory: every client of the same
    directory shares one session, and the last :meth:`close` closes it.
    """

    _sessions: ClassVar[dict[str, tuple[Any, int]]] = {}
    _guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        from chdb.session import Session  # optional: the dev extra installs it

        self.path = str(path.resolve())
        path.mkdir(parents=True, exist_ok=True)
        with self._guard:
            session, users = self._sessions.get(self.path, (None, 0))
            if session is None:
                try:
                    session = Session(self.path)  # type: ignore[no-untyped-call]
                except RuntimeError as exc:  # another directory is open in this process
                    raise StoreError(f"chdb cannot open {self.path}: {exc}") from exc
            self._sessions[self.path] = (session, users + 1)
        self._session = session
        self._closed = False

    def _run(self, sql: str, fmt: str, parameters: Mapping[str, Any] | None = None) -> Any:
        try:
            params = {k: _param_text(v) for k, v in (parameters or {}).items()}
            return self._session.query(sql, fmt, params=params or None)
        except Exception as exc:  # chdb raises its own error types for SQL failures
            raise StoreError(f"chdb query failed: {exc}") from exc

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        self._run(sql, "CSV", parameters)

    def insert_arrow(
        self, table: str, rows: pa.Table, settings: Mapping[str, Any] | None = None
    ) -> None:
        """Insert ``rows`` through a Parquet file (one INSERT … SELECT, one thread, so the
        blocks — and a deduplication token's meaning — do not depend on scheduling)."""
        if not _NAME.match(table.replace(".", "_")):
            raise InvalidInputError(f"bad table name {table!r}", field="table")
        columns = ", ".join(rows.column_names)
        with tempfile.TemporaryDirectory(prefix="siyu-chdb-") as tmp:
            path = str(Path(tmp) / "rows.parquet")
            pq.write_table(rows, path)
            clause = _settings_clause(
                {"max_threads": 1, "max_insert_threads": 1, **(settings or {})}
            )
            self.command(
                f"INSERT INTO {table} ({columns}){clause} "
                f"SELECT {columns} FROM file({_file_literal(path)}, Parquet)"
            )

    def query_arrow(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        """Run ``sql``; ``tables`` are written to Parquet and read by name through CTEs."""
        with tempfile.TemporaryDirectory(prefix="siyu-chdb-") as tmp:
            definitions = []
            for name, table in (tables or {}).items():
                if not _NAME.match(name):
                    raise InvalidInputError(f"bad table name {name!r}", field="tables")
                path = str(Path(tmp) / f"{name}.parquet")
                pq.write_table(table, path)
                definitions.append(
                    f"{name} AS (SELECT * FROM file({_file_literal(path)}, Parquet))"
                )
            result: pa.Table = self._run(
                with_definitions(definitions, sql), "ArrowTable", parameters
            )
        return result

    def close(self) -> None:
        """Close the session when no other client of the directory holds it."""
        if self._closed:
            return
        self._closed = True
        with self._guard:
            session, users = self._sessions[self.path]
            if users > 1:
                self._sessions[self.path] = (session, users - 1)
                return
            del self._sessions[self.path]
        session.close()


class ConnectClient:
    """A ClickHouse server through ``clickhouse-connect`` (HTTP). Not exercised in CI: no
    ClickHouse server ≥ 20 installs here; :class:`ChdbClient` runs the same SQL."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str) -> ConnectClient:
        """Connect to ``clickhouse://user:password@host:port/database``."""
        try:
            import clickhouse_connect
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise StoreError("install siyu[clickhouse] to use a ClickHouse server") from exc
        return cls(clickhouse_connect.get_client(dsn=url.replace("clickhouse://", "http://", 1)))

    def command(
        self, sql: str, parameters: Mapping[str, Any] | None = None
    ) -> None:  # pragma: no cover - needs a server
        """Run a statement that returns nothing."""
        self.client.command(sql, parameters=dict(parameters) if parameters else None)

    def insert_arrow(
        self, table: str, rows: pa.Table, settings: Mapping[str, Any] | None = None
    ) -> None:  # pragma: no cover - needs a server
        """One insert of ``rows`` in Arrow format (``database.table`` split for the driver,
        which quotes each part)."""
        database, _, name = table.rpartition(".")
        self.client.insert_arrow(
            name, rows, database=database or None, settings=dict(settings) if settings else None
        )

    def query_arrow(
        self,
        sql: str,
        parameters: Mapping[str, Any] | None = None,
        tables: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:  # pragma: no cover - needs a server
        """Run ``sql``; ``tables`` go as external data (temporary tables named as given)."""
        external = None
        if tables:
            from clickhouse_connect.driver.external import ExternalData

            external = ExternalData()
            for name, table in tables.items():
                sink = pa.BufferOutputStream()
                pq.write_table(table, sink)
                external.add_file(
                    file_name=name, data=bytes(sink.getvalue().to_pybytes()), fmt="Parquet"
                )
        result: pa.Table = self.client.query_arrow(
            sql, parameters=dict(parameters) if parameters else None, external_data=external
        )
        return result

    def close(self) -> None:  # pragma: no cover - needs a server
        """Close the HTTP pool."""
        self.client.close()


def _strings(values: Sequence[str]) -> list[str]:
    return [str(v) for v in values]


class ClickHouseEventStore:
    """Events in a ClickHouse table, one store for every workspace.

    :meth:`query` takes ClickHouse SQL (``dialect == "clickhouse"``) in which ``events`` is
    the workspace's events, and named parameters bound as ``{name:Type}``.
    """

    dialect = "clickhouse"

    def __init__(self, client: ClickHouseClient, *, database: str = "siyu") -> None:
        if not _NAME.match(database):
            raise InvalidInputError(f"bad database name {database!r}", field="database")
        self.client = client
        self.database = database
        self.table = f"{database}.events"
        self._appended = f"{database}.appended_batches"
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.command(CLICKHOUSE_EVENTS_DDL.replace("EXISTS events", f"EXISTS {self.table}"))
        # A table made before ``batch_seq`` existed gets it (old rows read as 0).
        client.command(
            f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS batch_seq UInt64 MATERIALIZED 0 "
            "AFTER sent_at"
        )
        client.command(
            f"ALTER TABLE {self.table} ADD INDEX IF NOT EXISTS batch_seq_range batch_seq "
            "TYPE minmax GRANULARITY 1"
        )
        client.command(APPENDED_DDL.replace("EXISTS appended_batches", f"EXISTS {self._appended}"))

    def close(self) -> None:
        """Release the client."""
        self.client.close()

    # -- writing -------------------------------------------------------------------------

    def append(self, rows: pa.Table) -> None:
        """Append ``rows`` in one insert (identical inserts are both kept)."""
        if rows.num_rows == 0:
            return
        rows = rows.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        self.client.insert_arrow(self.table, rows, {"insert_deduplicate": 0})

    def append_once(self, batches: Mapping[int, pa.Table]) -> int:
        """Append each batch (number → rows) whose number is not recorded, in one insert,
        then record the numbers; returns the rows appended. Rows of these batches that a
        flush which died before its record already inserted are not inserted again (see the
        module), whatever other batches this flush carries."""
        numbers = sorted(batches)
        if not numbers:
            return 0
        seen = self.client.query_arrow(
            f"SELECT number FROM {self._appended} WHERE number IN {{n:Array(UInt64)}}",
            {"n": numbers},
        )
        done = set(seen.column("number").to_pylist())
        fresh = [n for n in numbers if n not in done]
        if not fresh:
            return 0
        rows = pa.concat_tables(
            batches[n]
            .select(EVENT_SCHEMA.names)
            .cast(EVENT_SCHEMA)
            .append_column("batch_seq", pa.array([n] * batches[n].num_rows, pa.uint64()))
            for n in fresh
        )
        rows, already = self._without_inserted(fresh, rows)
        if rows.num_rows:
            key = f"{','.join(map(str, fresh))}/{already}"
            token = hashlib.sha256(key.encode()).hexdigest()
            self.client.insert_arrow(
                self.table,
                rows,
                {
                    "insert_deduplicate": 1,
                    "insert_deduplication_token": token,
                    "insert_allow_materialized_columns": 1,
                },
            )
        self.client.insert_arrow(self._appended, pa.table({"number": pa.array(fresh, pa.uint64())}))
        return int(rows.num_rows)

    def _without_inserted(self, fresh: list[int], rows: pa.Table) -> tuple[pa.Table, int]:
        """``rows`` less those whose (batch_seq, message_id) the table holds (left by a flush
        that died before recording), and how many those were."""
        workspaces = pa.compute.unique(rows.column("workspace_id")).to_pylist()
        found = self.client.query_arrow(
            f"SELECT batch_seq, message_id FROM {self.table} "
            "WHERE workspace_id IN {w:Array(String)} "
            "AND batch_seq BETWEEN {lo:UInt64} AND {hi:UInt64} AND batch_seq IN {n:Array(UInt64)}",
            {"w": _strings(workspaces), "lo": fresh[0], "hi": fresh[-1], "n": fresh},
        )
        if not found.num_rows:
            return rows, 0
        present = {
            (int(b), str(m))
            for b, m in zip(
                found.column("batch_seq").to_pylist(),
                found.column("message_id").to_pylist(),
                strict=True,
            )
        }
        keep = [
            (int(b), str(m)) not in present
            for b, m in zip(
                rows.column("batch_seq").to_pylist(),
                rows.column("message_id").to_pylist(),
                strict=True,
            )
        ]
        return rows.filter(pa.array(keep, pa.bool_())), found.num_rows

    def _partition(self, workspace_id: str) -> int:
        found = self.client.query_arrow(
            f"SELECT cityHash64({{w:String}}) % {PARTITIONS} AS p", {"w": workspace_id}
        )
        return int(found.column("p")[0].as_py())

    def compact(self, workspace_id: str) -> int:
        """Merge the workspace's partition into one part (``OPTIMIZE … FINAL``: identical
        re-inserted rows collapse) and delete the remaining copies of a message id, keeping
        the earliest received (the newest stored among equals); returns the rows kept."""
        self.client.command(
            f"OPTIMIZE TABLE {self.table} PARTITION {self._partition(workspace_id)} FINAL"
        )
        extra = self.client.query_arrow(
            f"""
            SELECT message_id, person_id, timestamp FROM (
                SELECT message_id, person_id, timestamp, row_number() OVER (
                    PARTITION BY message_id ORDER BY received_at, stored_at DESC) AS n
                FROM {self.table}
                WHERE workspace_id = {{w:String}} AND message_id IN (
                    SELECT message_id FROM {self.table} WHERE workspace_id = {{w:String}}
                    GROUP BY message_id HAVING count() > 1))
            WHERE n > 1
            """,
            {"w": workspace_id},
        )
        if extra.num_rows:
            self._delete_rows(workspace_id, extra)
        return self.count(workspace_id)

    def _delete_rows(self, workspace_id: str, keys: pa.Table) -> None:
        """Lightweight delete of the rows with these (message_id, person_id, timestamp)."""
        micros = pa.compute.cast(keys.column("timestamp"), pa.int64()).to_pylist()
        self.client.command(
            f"DELETE FROM {self.table} WHERE workspace_id = {{w:String}} AND has(arrayZip("
            "{m:Array(String)}, {p:Array(String)}, {t:Array(Int64)}), "
            "(message_id, person_id, toUnixTimestamp64Micro(timestamp))) "
            "SETTINGS mutations_sync = 2",
            {
                "w": workspace_id,
                "m": keys.column("message_id").to_pylist(),
                "p": keys.column("person_id").to_pylist(),
                "t": micros,
            },
        )

    def compact_small(self, workspace_id: str) -> int:
        """Nothing to do: ClickHouse merges small parts in the background."""
        return 0

    def reattribute(
        self, workspace_id: str, person_id: str, moves: dict[str, str], ranks: dict[str, int]
    ) -> int:
        """Give events of ``person_id`` whose strongest id is in ``moves`` to the mapped
        person (the DuckDB store's rule); returns the rows changed.

        ``person_id`` is in the sort key, which ClickHouse cannot UPDATE: the moved rows are
        inserted again with their new person, then the old rows deleted.
        """
        if not moves:
            return 0
        where = "workspace_id = {w:String} AND person_id = {p:String}"
        params: dict[str, Any] = {
            "w": workspace_id,
            "p": person_id,
            "mk": _strings(list(moves)),
            "mp": _strings(list(moves.values())),
            "rt": _strings(list(ranks)),
            "rr": [int(r) for r in ranks.values()],
        }
        target = self.client.query_arrow(
            f"""
            SELECT message_id, transform(k, {{mk:Array(String)}}, {{mp:Array(String)}}, '') AS to
            FROM (
                SELECT message_id, argMin(k, rank) AS k FROM (
                    SELECT message_id, arrayJoin(ids) AS k,
                        transform(splitByChar(':', k)[1], {{rt:Array(String)}},
                                  {{rr:Array(Int64)}}, toInt64(1000000)) AS rank
                    FROM {self.table} WHERE {where})
                GROUP BY message_id)
            WHERE has({{mk:Array(String)}}, k)
            """,
            params,
        )
        if not target.num_rows:
            return 0
        moved = {
            "w": workspace_id,
            "p": person_id,
            "ids": target.column("message_id").to_pylist(),
            "to": target.column("to").to_pylist(),
        }
        selected = f"{where} AND message_id IN {{ids:Array(String)}}"
        changed = self.client.query_arrow(
            f"SELECT count() AS n FROM {self.table} WHERE {selected}", moved
        )
        replaced = ", ".join(
            "transform(message_id, {ids:Array(String)}, {to:Array(String)}, person_id)"
            if name == "person_id"
            else name
            for name in EVENT_SCHEMA.names
        )
        self.client.command(
            f"INSERT INTO {self.table} ({COLUMNS}, batch_seq) SETTINGS insert_deduplicate = 0, "
            "insert_allow_materialized_columns = 1 "
            f"SELECT {replaced}, batch_seq FROM {self.table} WHERE {selected}",
            moved,
        )
        self.client.command(
            f"DELETE FROM {self.table} WHERE {selected} SETTINGS mutations_sync = 2", moved
        )
        return int(changed.column("n")[0].as_py())

    def rewrite_without(
        self,
        workspace_id: str,
        *,
        person_ids: Sequence[str] = (),
        id_keys: Sequence[str] = (),
        before: datetime | None = None,
    ) -> int:
        """Drop events of the workspace; returns the rows dropped.

        An event goes when its person is in ``person_ids``, when any of its raw ids is in
        ``id_keys``, or when its timestamp is before ``before``. ``ALTER TABLE … DELETE``
        with ``mutations_sync = 2`` rewrites the parts before returning (see the module:
        unlike a lightweight delete, the values leave the disk).
        """
        # The mutation's text is kept on disk (mutation_N.txt) with its parameters inlined,
        # so it names persons and ids by their 64-bit SipHash only, never by value.
        hashed = self.client.query_arrow(
            "SELECT arrayMap(x -> sipHash64(x), {persons:Array(String)}) AS p, "
            "arrayMap(x -> sipHash64(x), {keys:Array(String)}) AS k",
            {"persons": _strings(person_ids), "keys": _strings(id_keys)},
        ).to_pylist()[0]
        condition = (
            "workspace_id = {w:String} AND (has({persons:Array(UInt64)}, sipHash64(person_id)) "
            "OR hasAny(arrayMap(x -> sipHash64(x), ids), {keys:Array(UInt64)})"
        )
        params: dict[str, Any] = {"w": workspace_id, "persons": hashed["p"], "keys": hashed["k"]}
        if before is not None:
            if before.tzinfo is None:
                raise InvalidInputError("before must be timezone-aware", field="before")
            condition += " OR toUnixTimestamp64Micro(timestamp) < {before:Int64}"
            delta = before - datetime(1970, 1, 1, tzinfo=UTC)
            params["before"] = delta // timedelta(microseconds=1)
        condition += ")"
        found = self.client.query_arrow(
            f"SELECT _part AS part, count() AS n FROM {self.table} WHERE {condition} "
            "GROUP BY _part",
            params,
        )
        dropped = int(pa.compute.sum(found.column("n")).as_py() or 0)
        if dropped:
            self.client.command(
                f"ALTER TABLE {self.table} DELETE WHERE {condition} SETTINGS mutations_sync = 2",
                params,
            )
            self._wait_until_gone(found.column("part").to_pylist())
        return dropped

    def _wait_until_gone(self, parts: list[str], timeout: float = 30.0) -> None:
        """Return once ``parts`` (replaced by a mutation) are off the disk: the cleanup
        thread removes them ``old_parts_lifetime`` after the mutation, once no query reads
        them (``max_cleanup_delay_period = 1`` stops it backing off to minutes)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.client.query_arrow(
                "SELECT count() AS n FROM system.parts WHERE database = {d:String} "
                "AND table = 'events' AND has({parts:Array(String)}, name)",
                {"d": self.database, "parts": parts},
            )
            if int(left.column("n")[0].as_py()) == 0:
                return
            if time.monotonic() > deadline:
                raise StoreError(
                    f"events rewritten, but replaced parts {parts} are still on disk after "
                    f"{timeout:.0f} s; ClickHouse removes them later"
                )
            time.sleep(0.2)

    # -- reading -------------------------------------------------------------------------

    def query(
        self, workspace_id: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> pa.Table:
        """Run ClickHouse ``sql`` in which ``events`` is the workspace's events.

        ``params`` are named, bound as ``{name:Type}`` (aware datetimes as
        ``{name:DateTime64(6, 'UTC')}``, None as NULL of a ``Nullable`` type);
        ``siyu_workspace`` is reserved.
        """
        if not isinstance(params, Mapping):
            if params:
                raise InvalidInputError(
                    "ClickHouse SQL takes named {name:Type} parameters", field="params"
                )
            params = {}
        if "siyu_workspace" in params:
            raise InvalidInputError("siyu_workspace is reserved", field="params")
        cte = (
            f"events AS (SELECT {COLUMNS} FROM {self.table} "
            "WHERE workspace_id = {siyu_workspace:String})"
        )
        bound = {k: utc_text(v) if isinstance(v, datetime) else v for k, v in params.items()}
        return self.client.query_arrow(
            with_definitions([cte], sql), {**bound, "siyu_workspace": workspace_id}
        )

    def workspaces(self) -> list[str]:
        """Workspaces that have events."""
        found = self.client.query_arrow(f"SELECT DISTINCT workspace_id AS w FROM {self.table}")
        return sorted(str(w) for w in found.column("w").to_pylist())

    def count(self, workspace_id: str) -> int:
        """How many events the workspace has (duplicates not yet compacted included)."""
        found = self.client.query_arrow(
            f"SELECT count() AS n FROM {self.table} WHERE workspace_id = {{w:String}}",
            {"w": workspace_id},
        )
        return int(found.column("n")[0].as_py())

    def segments(self, workspace_id: str) -> list[Segment]:
        """The active parts holding the workspace's rows (each sorted; level from its name)."""
        found = self.client.query_arrow(
            f"SELECT _part AS name, count() AS rows FROM {self.table} "
            "WHERE workspace_id = {w:String} GROUP BY _part ORDER BY _part",
            {"w": workspace_id},
        )
        return [
            Segment(
                str(r["name"]), workspace_id, int(r["rows"]), sorted=True, level=_level(r["name"])
            )
            for r in found.to_pylist()
        ]


def _level(part: str) -> int:
    pieces = part.split("_")
    return int(pieces[3]) if len(pieces) >= 4 and pieces[3].isdigit() else 0


def open_clickhouse_store(url: str) -> ClickHouseEventStore:
    """``clickhouse://user:password@host:port/database`` (a server) or ``chdb:///dir``."""
    if url.startswith("chdb://"):
        return ClickHouseEventStore(ChdbClient(Path(unquote(url.removeprefix("chdb://")))))
    if url.startswith("clickhouse://"):
        database = urlsplit(url).path.strip("/") or "siyu"
        return ClickHouseEventStore(ConnectClient.connect(url), database=database)
    raise StoreError(f"unsupported ClickHouse URL {url!r}")
