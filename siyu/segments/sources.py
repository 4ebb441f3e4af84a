"""The relations a compiled segment reads, fetched from the operational store as Arrow tables
for the event engines (DuckDB, ClickHouse), combined over merged persons."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from siyu.segments import relations
from siyu.segments.dialects import Dialect

TS = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    relations.PERSONS: pa.schema([("person_id", pa.string())]),
    relations.PROFILES: pa.schema(
        [
            ("person_id", pa.string()),
            ("first_seen", TS),
            ("last_seen", TS),
            ("event_count", pa.int64()),
            ("order_count", pa.int64()),
            ("total_spend_fen", pa.int64()),
            ("last_order_at", TS),
            ("first_channel", pa.string()),
            ("first_campaign", pa.string()),
        ]
    ),
    relations.TRAITS: pa.schema(
        [
            ("person_id", pa.string()),
            ("name", pa.string()),
            ("value_str", pa.string()),
            ("value_num", pa.float64()),
        ]
    ),
    relations.TAGS: pa.schema([("person_id", pa.string()), ("tag_id", pa.string())]),
    relations.IDENTIFIERS: pa.schema([("person_id", pa.string()), ("id_type", pa.string())]),
    relations.MEMBERS: pa.schema([("person_id", pa.string()), ("segment_id", pa.string())]),
}
"""Column names and types of each shipped relation."""


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)  # SQLite: naive UTC text


def _to_arrow(rows: list[Any], schema: pa.Schema) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        mapping = row._mapping
        for name in schema.names:
            columns[name].append(mapping[name])
    for f in schema:
        if f.type == TS:
            columns[f.name] = [_time(v) for v in columns[f.name]]
        elif f.type == pa.int64():
            columns[f.name] = [None if v is None else int(v) for v in columns[f.name]]
        elif f.type == pa.float64():
            columns[f.name] = [None if v is None else float(v) for v in columns[f.name]]
    return pa.table(columns, schema=schema)


def load_relations(
    *, session: Session, workspace_id: str, names: Collection[str]
) -> dict[str, pa.Table]:
    """The named relations of ``workspace_id``, read from the operational store.

    Each is defined by the same SQL the operational dialects compile to, so all four dialects
    see the same combined persons, profiles and traits.
    """
    dialect = Dialect(session.get_bind().dialect.name)
    tables: dict[str, pa.Table] = {}
    for name in names:
        if name not in SCHEMAS:
            continue
        ctes = relations.operational_ctes([name], dialect, workspace_id)
        columns = ", ".join(SCHEMAS[name].names)
        rows = session.execute(text(f"WITH {ctes}\nSELECT {columns} FROM {name}")).all()
        tables[name] = _to_arrow(list(rows), SCHEMAS[name])
    return tables
