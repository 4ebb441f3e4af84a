"""Analytics engines: run dialect SQL over a workspace's events, merged persons mapped.

Every engine answers one call, :meth:`Engine.run`, in which the SQL reads

* ``events`` — the workspace's events (:data:`~siyu.core.eventstore.EVENT_SCHEMA` columns)
  whose ``person_id`` is already mapped through the identity overrides
  (``coalesce(survivor, person_id)``), so a merged customer counts once;
* any extra named Arrow tables the caller passes (person lists, spend tables, …).

Three implementations share that contract:

* :class:`DuckDBEngine` — the embedded default, DuckDB over the store's Parquet segments;
* :class:`ChdbEngine` — ClickHouse SQL run in-process by chdb over the *same* Parquet
  segments; this is how CI proves the ClickHouse SQL and that both engines agree;
* :class:`ClickHouseEngine` — a ClickHouse server through ``clickhouse-connect`` (table
  ``events``, MergeTree ``ORDER BY (workspace_id, person_id, timestamp)``). Only its SQL
  generation is tested here; no server runs in CI.

Values are inlined with :func:`sql_literal` because the two dialects bind parameters
differently (``$name`` vs ``{name:Type}``) and query SQL is snapshot-tested as text.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from siyu.core.errors import InvalidInputError, StoreError
from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore
from siyu.core.eventstore_clickhouse import CLICKHOUSE_EVENTS_DDL as CLICKHOUSE_EVENTS_DDL
from siyu.core.eventstore_clickhouse import (
    ClickHouseClient,
    ClickHouseEventStore,
    ConnectClient,
)
from siyu.core.eventstore_clickhouse import with_definitions as with_definitions

if TYPE_CHECKING:
    from siyu.core.runtime import Runtime

NO_TABLES: Mapping[str, pa.Table] = MappingProxyType({})
"""The default of ``tables``: no extra relations."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"events", "person_map"}


class Dialect(StrEnum):
    """SQL dialects analytics compiles to."""

    DUCKDB = "duckdb"
    CLICKHOUSE = "clickhouse"


class Engine(Protocol):
    """Runs dialect SQL over one workspace's events (persons mapped) and named tables."""

    @property
    def dialect(self) -> Dialect:
        """The SQL dialect :meth:`run` expects."""

    def run(
        self,
        *,
        workspace_id: str,
        sql: str,
        tables: Mapping[str, pa.Table] = NO_TABLES,
        person_map: Sequence[tuple[str, str]] = (),
    ) -> pa.Table:
        """Run ``sql`` reading ``events`` and ``tables``; returns an Arrow table."""


# -- literals ----------------------------------------------------------------------------


def _string_literal(value: str, dialect: Dialect) -> str:
    if dialect is Dialect.CLICKHOUSE:
        # ClickHouse reads backslash escapes inside quoted strings.
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def _datetime_literal(value: datetime, dialect: Dialect) -> str:
    if value.tzinfo is None:
        raise InvalidInputError("datetimes must be timezone-aware", field="datetime")
    # isoformat pads the year to four digits; strftime's %Y writes year 289 as "289".
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if dialect is Dialect.CLICKHOUSE:
        return f"toDateTime64('{text}', 6, 'UTC')"
    return f"TIMESTAMPTZ '{text}+00'"


def sql_literal(value: object, dialect: Dialect) -> str:
    """``value`` as a SQL literal of ``dialect``: strings escaped, datetimes as UTC.

    Supports None, bool, int, float (finite), Decimal, str, aware datetime, date and
    lists/tuples of those.
    """
    match value:
        case None:
            return "NULL"
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float() if math.isfinite(value):
            return repr(value)
        case Decimal() if value.is_finite():
            return str(value)
        case str():
            return _string_literal(value, dialect)
        case datetime():
            return _datetime_literal(value, dialect)
        case date():
            iso = value.isoformat()
            return f"toDate('{iso}')" if dialect is Dialect.CLICKHOUSE else f"DATE '{iso}'"
        case list() | tuple():
            return "[" + ", ".join(sql_literal(v, dialect) for v in value) + "]"
    raise InvalidInputError(f"cannot inline {type(value).__name__} {value!r} in SQL")


def _check_names(tables: Mapping[str, pa.Table]) -> None:
    for name in tables:
        if not _NAME.match(name) or name in _RESERVED:
            raise InvalidInputError(f"bad table name {name!r}", field="tables")


# -- DuckDB ------------------------------------------------------------------------------


class DuckDBEngine:
    """DuckDB over the embedded store's Parquet segments (the store's own files)."""

    dialect = Dialect.DUCKDB

    def __init__(self, store: DuckDBEventStore, *, threads: int = 2, memory_limit: str = "2GB"):
        self.store = store
        self._threads = threads
        self._memory_limit = memory_limit
        self._local = threading.local()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            con = duckdb.connect(
                ":memory:",
                config={
                    "threads": self._threads,
                    "memory_limit": self._memory_limit,
                    "temp_directory": str(self.store.directory / ".tmp"),
                },
            )
            self._local.con = con
        return con

    def files(self, workspace_id: str) -> list[str]:
        """The Parquet files holding the workspace's events now."""
        return [str(self.store.directory / s.name) for s in self.store.segments(workspace_id)]

    def run(
        self,
        *,
        workspace_id: str,
        sql: str,
        tables: Mapping[str, pa.Table] = NO_TABLES,
        person_map: Sequence[tuple[str, str]] = (),
    ) -> pa.Table:
        """Run DuckDB ``sql`` over ``events`` (persons mapped) and ``tables``."""
        _check_names(tables)
        con = self._connection()
        registered = list(tables)
        for name, table in tables.items():
            con.register(name, table)
        try:
            con.execute(events_view_sql(self.files(workspace_id), workspace_id, person_map, con))
            return con.sql(sql).to_arrow_table()
        except duckdb.IOException as exc:  # a segment retired under a very slow reader
            raise StoreError(f"event store read failed: {exc}") from exc
        finally:
            for name in registered:
                con.unregister(name)


def events_view_sql(
    files: Sequence[str],
    workspace_id: str,
    person_map: Sequence[tuple[str, str]],
    con: duckdb.DuckDBPyConnection,
) -> str:
    """The DuckDB statement defining the temp view ``events`` (registers ``person_map``)."""
    if files:
        listing = ", ".join(_string_literal(f, Dialect.DUCKDB) for f in files)
        source = f"read_parquet([{listing}])"
    else:
        con.register("events_empty", EVENT_SCHEMA.empty_table())
        source = "events_empty"
    where = f"workspace_id = {_string_literal(workspace_id, Dialect.DUCKDB)}"
    if not person_map:
        return f"CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM {source} WHERE {where}"
    con.register("person_map", _person_map_table(person_map))
    return (
        "CREATE OR REPLACE TEMP VIEW events AS "
        "SELECT e.* REPLACE (coalesce(m.survivor, e.person_id) AS person_id) "
        f"FROM {source} AS e LEFT JOIN person_map AS m ON m.absorbed = e.person_id "
        f"WHERE e.{where}"
    )


def _person_map_table(person_map: Sequence[tuple[str, str]]) -> pa.Table:
    return pa.table(
        {
            "absorbed": pa.array([a for a, _ in person_map], pa.string()),
            "survivor": pa.array([s for _, s in person_map], pa.string()),
        }
    )


# -- ClickHouse (chdb in process, or a server) -------------------------------------------


def person_expression_sql(person_map: Sequence[tuple[str, str]]) -> str:
    """ClickHouse expression mapping ``person_id`` to its survivor (``transform``)."""
    if not person_map:
        return "person_id"
    absorbed = sql_literal([a for a, _ in person_map], Dialect.CLICKHOUSE)
    survivor = sql_literal([s for _, s in person_map], Dialect.CLICKHOUSE)
    return f"transform(person_id, {absorbed}, {survivor}, person_id)"


# Up to this many merges are inlined as a transform(); more are joined from a table, because
# the statement would pass ClickHouse's max_query_size (a workspace has many merges).
INLINE_PERSON_MAP = 500


def clickhouse_events_cte(
    source: str,
    workspace_id: str,
    person_map: Sequence[tuple[str, str]],
    map_source: str | None = None,
) -> str:
    """The CTE ``events AS (…)`` over ``source`` for one workspace, persons mapped.

    A small map is inlined; a larger one is read from ``map_source`` (a relation with
    columns person_id, survivor_id) through a left join.
    """
    where = f"workspace_id = {sql_literal(workspace_id, Dialect.CLICKHOUSE)}"
    if not person_map:
        return f"events AS (SELECT * FROM {source} WHERE {where})"
    if map_source is None or len(person_map) <= INLINE_PERSON_MAP:
        mapped = person_expression_sql(person_map)
        return f"events AS (SELECT * REPLACE ({mapped} AS person_id) FROM {source} WHERE {where})"
    return (
        "events AS (SELECT e.* REPLACE (if(m.survivor_id != '', m.survivor_id, e.person_id) "
        f"AS person_id) FROM (SELECT * FROM {source} WHERE {where}) AS e LEFT JOIN "
        f"(SELECT person_id, survivor_id FROM {map_source}) AS m ON e.person_id = m.person_id)"
    )


def person_map_table(person_map: Sequence[tuple[str, str]]) -> pa.Table:
    """The map as an Arrow table (person_id, survivor_id)."""
    return pa.table(
        {
            "person_id": pa.array([a for a, _ in person_map], pa.string()),
            "survivor_id": pa.array([s for _, s in person_map], pa.string()),
        }
    )


def _file_source(paths: Sequence[str]) -> str:
    if len(paths) == 1:
        return f"file({sql_literal(paths[0], Dialect.CLICKHOUSE)}, Parquet)"
    # file() takes one glob; a union of single files keeps to exactly the listed segments.
    parts = [f"SELECT * FROM file({sql_literal(p, Dialect.CLICKHOUSE)}, Parquet)" for p in paths]
    return "(" + " UNION ALL ".join(parts) + ")"


class ChdbEngine:
    """ClickHouse SQL run in process by chdb over the embedded store's Parquet segments."""

    dialect = Dialect.CLICKHOUSE
    _lock = threading.Lock()  # chdb runs one query at a time per process

    def __init__(self, store: DuckDBEventStore) -> None:
        self.store = store

    def run(
        self,
        *,
        workspace_id: str,
        sql: str,
        tables: Mapping[str, pa.Table] = NO_TABLES,
        person_map: Sequence[tuple[str, str]] = (),
    ) -> pa.Table:
        """Run ClickHouse ``sql`` over ``events`` (persons mapped) and ``tables``."""
        _check_names(tables)
        files = [str(self.store.directory / s.name) for s in self.store.segments(workspace_id)]
        with tempfile.TemporaryDirectory(prefix="siyu-chdb-") as tmp:
            if not files:
                files = [str(Path(tmp) / "events_empty.parquet")]
                pq.write_table(EVENT_SCHEMA.empty_table(), files[0])
            map_path = str(Path(tmp) / "person_map.parquet")
            pq.write_table(person_map_table(person_map), map_path)
            definitions = [
                clickhouse_events_cte(
                    _file_source(files), workspace_id, person_map, _file_source([map_path])
                )
            ]
            for name, table in tables.items():
                path = str(Path(tmp) / f"{name}.parquet")
                pq.write_table(table, path)
                definitions.append(f"{name} AS (SELECT * FROM {_file_source([path])})")
            return self._query(with_definitions(definitions, sql))

    def _query(self, sql: str) -> pa.Table:
        import chdb  # optional: the dev extra installs it

        with self._lock:
            try:
                result: pa.Table = chdb.query(sql, "ArrowTable")  # type: ignore[no-untyped-call]
            except Exception as exc:  # chdb raises its own error types for SQL failures
                raise StoreError(f"chdb query failed: {exc}") from exc
        return result


class ClickHouseEngine:
    """ClickHouse through a :class:`~siyu.core.eventstore_clickhouse.ClickHouseClient`: a
    server (``clickhouse-connect``, optional extra ``clickhouse``) or the chdb session of a
    :class:`~siyu.core.eventstore_clickhouse.ClickHouseEventStore`.

    Reads table ``events`` (``database.events`` when ``database`` is given), see
    :data:`CLICKHOUSE_EVENTS_DDL`. Extra Arrow tables go through the client (external data
    on a server). On chdb it runs in CI (tests/core/test_eventstore_clickhouse.py); against
    a server only :meth:`sql_for` (the SQL it sends) is tested.
    """

    dialect = Dialect.CLICKHOUSE

    def __init__(
        self, client: ClickHouseClient | None, *, table: str = "events", database: str = ""
    ) -> None:
        for name in (table, database):
            if name and not _NAME.match(name):
                raise InvalidInputError(f"bad table name {name!r}", field="table")
        self.client = client
        self.table = f"{database}.{table}" if database else table

    @classmethod
    def connect(cls, url: str) -> ClickHouseEngine:
        """Connect to ``clickhouse://user:password@host:port/database``."""
        return cls(ConnectClient.connect(url))

    @classmethod
    def over(cls, store: ClickHouseEventStore) -> ClickHouseEngine:
        """The engine reading the store's own table through its client."""
        return cls(store.client, database=store.database)

    def sql_for(
        self, *, workspace_id: str, sql: str, person_map: Sequence[tuple[str, str]] = ()
    ) -> str:
        """The statement :meth:`run` sends for ``sql``."""
        cte = clickhouse_events_cte(self.table, workspace_id, person_map, "siyu_person_map")
        return with_definitions([cte], sql)

    def run(
        self,
        *,
        workspace_id: str,
        sql: str,
        tables: Mapping[str, pa.Table] = NO_TABLES,
        person_map: Sequence[tuple[str, str]] = (),
    ) -> pa.Table:
        """Run ClickHouse ``sql``; ``tables`` go through the client."""
        _check_names(tables)
        if self.client is None:
            raise StoreError("this ClickHouse engine has no client")
        statement = self.sql_for(workspace_id=workspace_id, sql=sql, person_map=person_map)
        sent = dict(tables)
        if len(person_map) > INLINE_PERSON_MAP:
            sent["siyu_person_map"] = person_map_table(person_map)
        return self.client.query_arrow(statement, tables=sent)


def engine_for(runtime: Runtime, dialect: Dialect | str = Dialect.DUCKDB) -> Engine:
    """The engine of ``dialect`` over the runtime's event store.

    When the event store is ClickHouse (``SIYU_EVENTS_URL=clickhouse://…`` or ``chdb://…``)
    every analysis runs in the ClickHouse dialect on the store's own table, whatever
    ``dialect`` asked: callers compile their SQL for ``engine.dialect``. Over the embedded
    store, ``clickhouse`` means a server when ``SIYU_CLICKHOUSE_URL`` is set, else chdb over
    the Parquet segments.
    """
    dialect = Dialect(dialect)
    if isinstance(runtime.events, ClickHouseEventStore):
        return ClickHouseEngine.over(runtime.events)
    if not isinstance(runtime.events, DuckDBEventStore):
        raise StoreError(f"no analytics engine for {type(runtime.events).__name__}")
    if dialect is Dialect.DUCKDB:
        return DuckDBEngine(runtime.events)
    url = getattr(runtime.settings, "clickhouse_url", "") or os.environ.get(
        "SIYU_CLICKHOUSE_URL", ""
    )
    if url:
        return ClickHouseEngine.connect(url)
    return ChdbEngine(runtime.events)
