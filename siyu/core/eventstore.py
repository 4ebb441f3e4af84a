"""The event store: append-only events for analytics, behind one :class:`EventStore` interface.

The embedded implementation keeps events as Parquet segments in one directory and queries
them with DuckDB. Why not one DuckDB database file: DuckDB lets a single process write a
file, and siyu must let ``siyu import`` write while ``siyu serve`` runs, and let analytics
read while either writes. Parquet segments plus a manifest give that:

* writers (any process) take a file lock, write a new segment (temp name, fsync, rename)
  and publish it in ``manifest.json`` (temp, fsync, rename) — readers never see half a file;
* readers need no lock: they read the manifest and scan the segments it names with an
  in-memory DuckDB connection;
* a batch from the ingest inbox is appended once: the manifest that publishes its segment
  also records the batch's number (the inbox ``seq``), so a flush that dies after the
  segment but before its database commit, and runs again, writes nothing twice;
* compaction merges a workspace's small segments into one sorted by (person_id, timestamp),
  the order funnels and retention scan in, dropping duplicate message ids. Replaced
  segments are deleted only after a grace period, so a reader that planned over them
  finishes first.

:class:`~siyu.core.eventstore_clickhouse.ClickHouseEventStore` fills the same interface at
scale (a ClickHouse server, or chdb in process); its :meth:`query` takes ClickHouse SQL, so
callers look at ``dialect``.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from siyu.core.errors import StoreError
from siyu.core.ids import new_id

TS = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema(
    [
        ("workspace_id", pa.string()),
        ("message_id", pa.string()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("person_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("user_id", pa.string()),
        ("group_id", pa.string()),
        ("ids", pa.list_(pa.string())),
        ("properties", pa.string()),
        ("traits", pa.string()),
        ("context", pa.string()),
        ("channel", pa.string()),
        ("campaign", pa.string()),
        ("revenue_fen", pa.int64()),
        ("timestamp", TS),
        ("received_at", TS),
        ("sent_at", TS),
    ]
)
"""Columns of every event. ``ids`` holds the raw identifiers as ``type:key`` (PII hashed);
JSON columns are strings; ``person_id`` is the person resolved at ingest."""

RETIRE_GRACE_SECONDS = 120.0
APPENDED_RANGES_KEPT = 1024
"""How many ranges of appended batch numbers the manifest keeps (the newest). A batch is
retried by the very next flush that reads it, so only the recent past is ever asked about;
numbers run in order, so ranges coalesce and this many cover a long history."""
SMALL_MERGE_FANIN = 16
MAX_SMALL_LEVEL = 2


class EventStore(Protocol):
    """What the rest of siyu needs from an event store."""

    @property
    def dialect(self) -> str:
        """The SQL dialect :meth:`query` takes: ``duckdb`` or ``clickhouse``."""

    def append(self, rows: pa.Table) -> None:
        """Durably append rows with :data:`EVENT_SCHEMA`."""

    def append_once(self, batches: Mapping[int, pa.Table]) -> int:
        """Append each batch (number → rows) never appended before; returns rows appended.
        Numbers must never be reused."""

    def query(
        self, workspace_id: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> pa.Table:
        """Run ``sql`` in which the view ``events`` holds the workspace's events."""

    def compact(self, workspace_id: str) -> int:
        """Merge the workspace's segments into one sorted by person and time; rows kept."""

    def compact_small(self, workspace_id: str) -> int:
        """Merge many small segments into one, leaving big ones; rows merged."""

    def reattribute(
        self, workspace_id: str, person_id: str, moves: dict[str, str], ranks: dict[str, int]
    ) -> int:
        """Give events of ``person_id`` whose strongest id is in ``moves`` to the mapped person."""

    def rewrite_without(
        self,
        workspace_id: str,
        *,
        person_ids: Sequence[str] = (),
        id_keys: Sequence[str] = (),
        before: datetime | None = None,
    ) -> int:
        """Drop (from disk) the workspace's events of these persons, ids or before a time."""

    def workspaces(self) -> list[str]:
        """Workspaces that have events."""

    def count(self, workspace_id: str) -> int:
        """How many events the workspace has."""

    def segments(self, workspace_id: str) -> list[Segment]:
        """The workspace's storage units (Parquet segments, ClickHouse parts)."""

    def close(self) -> None:
        """Release what the store holds open."""


@dataclass
class Segment:
    """One Parquet file listed in the manifest."""

    name: str
    workspace_id: str
    rows: int
    sorted: bool = False  # the workspace's one fully compacted segment
    level: int = 0  # 0: one flush; k+1: a merge of SMALL_MERGE_FANIN level-k segments


@dataclass
class Manifest:
    """The published list of live segments, and retired ones awaiting deletion."""

    segments: list[Segment] = field(default_factory=list)
    retired: list[tuple[str, float]] = field(default_factory=list)
    appended: list[tuple[int, int]] = field(default_factory=list)
    """Batch numbers already appended, as sorted, disjoint, inclusive ranges."""

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(
            segments=[Segment(**s) for s in raw["segments"]],
            retired=[(name, at) for name, at in raw.get("retired", [])],
            appended=[(lo, hi) for lo, hi in raw.get("appended", [])],
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "segments": [s.__dict__ for s in self.segments],
                "retired": self.retired,
                "appended": self.appended,
            }
        )

    def was_appended(self, number: int) -> bool:
        at = bisect.bisect_right(self.appended, number, key=lambda r: r[0]) - 1
        return at >= 0 and self.appended[at][0] <= number <= self.appended[at][1]

    def record_appended(self, numbers: Iterable[int]) -> None:
        """Add ``numbers`` to :attr:`appended`, coalescing ranges, keeping the newest
        :data:`APPENDED_RANGES_KEPT`."""
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted([*self.appended, *((n, n) for n in numbers)]):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        self.appended = merged[-APPENDED_RANGES_KEPT:]


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DuckDBEventStore:
    """Events as Parquet segments in ``directory``, queried with DuckDB."""

    dialect = "duckdb"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._manifest_path = directory / "manifest.json"
        self._lock_path = directory / ".lock"
        self._local = threading.local()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[Manifest]:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield Manifest.load(self._manifest_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _publish(self, manifest: Manifest) -> None:
        now = time.time()
        keep: list[tuple[str, float]] = []
        for name, retired_at in manifest.retired:
            if now - retired_at > RETIRE_GRACE_SECONDS:
                (self.directory / name).unlink(missing_ok=True)
            else:
                keep.append((name, retired_at))
        manifest.retired = keep
        _fsync_write(self._manifest_path, manifest.dump().encode())
        _fsync_dir(self.directory)

    def _write_segment(self, table: pa.Table, *, sort: bool) -> str:
        if sort:
            table = table.sort_by([("person_id", "ascending"), ("timestamp", "ascending")])
        name = f"{new_id('seg')}.parquet"
        path = self.directory / name
        tmp = path.with_name(name + ".tmp")
        pq.write_table(table, tmp, compression="zstd", row_group_size=128 * 1024)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
        return name

    def append(self, rows: pa.Table) -> None:
        """Durably append ``rows`` (one segment per workspace in the batch)."""
        if rows.num_rows == 0:
            return
        with self._locked() as manifest:
            self._append(manifest, rows)
            self._publish(manifest)

    def append_once(self, batches: Mapping[int, pa.Table]) -> int:
        """Append each batch (number → rows) whose number the manifest has not recorded, and
        record the numbers in the same manifest that publishes the segments; returns the rows
        appended. Numbers must never be reused (the inbox's ``seq`` is not)."""
        with self._locked() as manifest:
            fresh = {n: t for n, t in batches.items() if not manifest.was_appended(n)}
            if not fresh:
                return 0
            rows = pa.concat_tables(
                t.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA) for t in fresh.values()
            )
            self._append(manifest, rows)
            manifest.record_appended(fresh)
            self._publish(manifest)
            return int(rows.num_rows)

    def _append(self, manifest: Manifest, rows: pa.Table) -> None:
        rows = rows.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        for workspace_id in rows.column("workspace_id").unique().to_pylist():
            part = rows.filter(pa.compute.equal(rows.column("workspace_id"), workspace_id))
            if part.num_rows:
                name = self._write_segment(part, sort=True)
                manifest.segments.append(Segment(name, workspace_id, part.num_rows))

    def compact(self, workspace_id: str) -> int:
        """Merge the workspace's segments into one, sorted, without duplicate message ids."""
        with self._locked() as manifest:
            mine = [s for s in manifest.segments if s.workspace_id == workspace_id]
            if len(mine) <= 1 and all(s.sorted for s in mine):
                return sum(s.rows for s in mine)
            return self._merge(manifest, workspace_id, mine, fully=True)

    def compact_small(self, workspace_id: str, *, fan_in: int = SMALL_MERGE_FANIN) -> int:
        """Merge ``fan_in`` same-level segments of the workspace into one of the next level;
        returns the rows merged (0 if no level had that many).

        Cheap enough to run after every flush: levels stop at :data:`MAX_SMALL_LEVEL` and
        never touch the fully compacted segment, so a merge's size stays bounded while the
        number of files a reader opens stays logarithmic under sustained ingest.
        """
        with self._locked() as manifest:
            for level in range(MAX_SMALL_LEVEL):
                same = [
                    s
                    for s in manifest.segments
                    if s.workspace_id == workspace_id and not s.sorted and s.level == level
                ]
                if len(same) >= fan_in:
                    return self._merge(manifest, workspace_id, same, fully=False, level=level + 1)
            return 0

    def _merge(
        self,
        manifest: Manifest,
        workspace_id: str,
        segments: list[Segment],
        *,
        fully: bool,
        level: int = 0,
    ) -> int:
        # DuckDB streams Parquet to Parquet and sorts out of core, so a merge never holds the
        # workspace's events in Python memory.
        name = f"{new_id('seg')}.parquet"
        path = self.directory / name
        tmp = path.with_name(name + ".tmp")
        result = self._connection().execute(
            "COPY (SELECT * FROM read_parquet($files) QUALIFY row_number() "
            "OVER (PARTITION BY message_id ORDER BY received_at) = 1 "
            "ORDER BY person_id, timestamp) TO '"
            + str(tmp).replace("'", "''")
            + "' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
            {"files": [str(self.directory / s.name) for s in segments]},
        )
        copied = result.fetchone()
        rows = int(copied[0]) if copied else 0
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
        replaced = {s.name for s in segments}
        manifest.segments = [s for s in manifest.segments if s.name not in replaced]
        manifest.segments.append(Segment(name, workspace_id, rows, sorted=fully, level=level))
        manifest.retired.extend((s.name, time.time()) for s in segments)
        self._publish(manifest)
        return rows

    def workspaces(self) -> list[str]:
        """Workspaces that have segments."""
        manifest = Manifest.load(self._manifest_path)
        return sorted({s.workspace_id for s in manifest.segments})

    def reattribute(
        self, workspace_id: str, person_id: str, moves: dict[str, str], ranks: dict[str, int]
    ) -> int:
        """Rewrite the workspace's segments after a split; returns the rows changed.

        An event of ``person_id`` goes to the person in ``moves`` (``type:key`` → person)
        when its strongest identifier (lowest rank in ``ranks``, id type → priority) is one
        of the moved ones — the same rule that attributed it at ingest. An event that also
        carries a stronger identifier that stayed (the wrong link itself) stays.
        """
        if not moves:
            return 0
        self.compact(workspace_id)
        with self._locked() as manifest:
            mine = [s for s in manifest.segments if s.workspace_id == workspace_id]
            if not mine:
                return 0
            con = self._connection()
            con.register("moves", pa.table({"k": list(moves), "p": list(moves.values())}))
            con.register("ranks", pa.table({"t": list(ranks), "r": list(ranks.values())}))
            rewritten = con.sql(
                """
                WITH e AS (SELECT * FROM read_parquet($files)),
                strongest AS (
                    SELECT e.message_id, arg_min(u.k, coalesce(r.r, 1000000)) AS k
                    FROM e, unnest(e.ids) AS u(k)
                    LEFT JOIN ranks r ON r.t = split_part(u.k, ':', 1)
                    WHERE e.person_id = $person GROUP BY e.message_id),
                target AS (
                    SELECT s.message_id, m.p FROM strongest s JOIN moves m ON m.k = s.k)
                SELECT e.* REPLACE (coalesce(target.p, e.person_id) AS person_id),
                       target.p IS NOT NULL AS moved
                FROM e LEFT JOIN target USING (message_id)
                """,
                params={"files": [str(self.directory / s.name) for s in mine], "person": person_id},
            ).to_arrow_table()
            con.unregister("ranks")
            con.unregister("moves")
            changed = int(pa.compute.sum(rewritten.column("moved")).as_py() or 0)
            name = self._write_segment(rewritten.drop(["moved"]).cast(EVENT_SCHEMA), sort=True)
            manifest.segments = [s for s in manifest.segments if s.workspace_id != workspace_id]
            manifest.segments.append(Segment(name, workspace_id, rewritten.num_rows, sorted=True))
            manifest.retired.extend((s.name, time.time()) for s in mine)
            self._publish(manifest)
            return changed

    def rewrite_without(
        self,
        workspace_id: str,
        *,
        person_ids: Sequence[str] = (),
        id_keys: Sequence[str] = (),
        before: datetime | None = None,
    ) -> int:
        """Drop events from the workspace's segments; returns the rows dropped.

        An event goes when its person is in ``person_ids``, when any of its raw ids
        (``type:key``) is in ``id_keys``, or when its timestamp is before ``before``. Crash-safe
        like a merge: the new segment is complete and fsynced before the manifest that names
        it is published, under the writers' lock. Unlike a merge, the replaced segments (and
        every segment already retired) are deleted at once, not after the grace period — the
        point is that the dropped events leave the disk; a reader still scanning them fails
        with :class:`StoreError` and can retry.
        """
        with self._locked() as manifest:
            mine = [s for s in manifest.segments if s.workspace_id == workspace_id]
            if not mine:
                return 0
            # Streamed Parquet to Parquet (as in a merge), so the workspace's events never sit
            # in Python memory.
            name = f"{new_id('seg')}.parquet"
            path = self.directory / name
            tmp = path.with_name(name + ".tmp")
            result = self._connection().execute(
                "COPY (SELECT * FROM read_parquet($files) WHERE NOT ("
                "list_contains($persons, person_id) OR len(list_intersect(ids, $keys)) > 0 "
                "OR ($before IS NOT NULL AND timestamp < $before)) "
                "ORDER BY person_id, timestamp) TO '"
                + str(tmp).replace("'", "''")
                + "' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
                {
                    "files": [str(self.directory / s.name) for s in mine],
                    "persons": list(person_ids),
                    "keys": list(id_keys),
                    "before": before,
                },
            )
            copied = result.fetchone()
            kept = int(copied[0]) if copied else 0
            dropped = sum(s.rows for s in mine) - kept
            if dropped == 0:
                tmp.unlink(missing_ok=True)
                return 0
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            tmp.replace(path)
            manifest.segments = [s for s in manifest.segments if s.workspace_id != workspace_id]
            manifest.segments.append(Segment(name, workspace_id, kept, sorted=True))
            gone = [s.name for s in mine] + [name for name, _ in manifest.retired]
            manifest.retired = []
            self._publish(manifest)
            for name in gone:
                (self.directory / name).unlink(missing_ok=True)
            _fsync_dir(self.directory)
            return dropped

    # -- reading -------------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            # Bounded memory: DuckDB spills sorts to disk past the limit.
            con = duckdb.connect(
                ":memory:",
                config={
                    "threads": 2,
                    "memory_limit": "1GB",
                    "temp_directory": str(self.directory / ".tmp"),
                },
            )
            self._local.con = con
        return con

    def segments(self, workspace_id: str) -> list[Segment]:
        """The live segments of a workspace, as the manifest lists them now."""
        manifest = Manifest.load(self._manifest_path)
        return [s for s in manifest.segments if s.workspace_id == workspace_id]

    def query(
        self, workspace_id: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> pa.Table:
        """Run ``sql`` over the view ``events`` of one workspace; returns an Arrow table.

        ``params`` are positional (``?``) or named (``$name``)."""
        con = self._connection()
        self._bind_view(con, [str(self.directory / s.name) for s in self.segments(workspace_id)])
        try:
            return con.sql(
                sql, params=(dict(params) if isinstance(params, Mapping) else list(params)) or None
            ).to_arrow_table()
        except duckdb.IOException as exc:  # a segment retired under a very slow reader
            raise StoreError(f"event store read failed: {exc}") from exc

    @staticmethod
    def _bind_view(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
        if not files:
            con.register("events_empty", EVENT_SCHEMA.empty_table())
            con.execute("CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM events_empty")
            return
        # Paths are ours (manifest names under our directory); quote them for the literal.
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM read_parquet([{listing}])"
        )

    def count(self, workspace_id: str) -> int:
        """How many events the workspace has in the store."""
        return sum(s.rows for s in self.segments(workspace_id))

    def close(self) -> None:
        """Nothing held open between calls."""


def open_event_store(url: str) -> EventStore:
    """The event store for ``url``: ``duckdb:///path/to/dir`` (embedded, the default),
    ``clickhouse://user:password@host:port/database`` (a server) or ``chdb:///path/to/dir``
    (ClickHouse in this process)."""
    if url.startswith("duckdb://"):
        return DuckDBEventStore(Path(url.removeprefix("duckdb://")))
    if url.startswith(("clickhouse://", "chdb://")):
        from siyu.core.eventstore_clickhouse import open_clickhouse_store

        return open_clickhouse_store(url)
    raise StoreError(
        f"unsupported event store URL {url!r}: expected duckdb:///<dir>, chdb:///<dir> "
        "or clickhouse://user:password@host:port/database"
    )
