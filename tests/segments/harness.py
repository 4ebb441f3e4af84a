"""Ship reference data to DuckDB and chdb and run compiled SQL on it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from siyu.core.eventstore import EVENT_SCHEMA
from siyu.segments import relations
from siyu.segments.sources import SCHEMAS
from tests.segments.reference import Data


def tables_of(data: Data) -> dict[str, pa.Table]:
    """The reference data as the Arrow relations the event engines read."""
    profiles = [{"person_id": p, **v} for p, v in data.profiles.items()]
    traits = [
        {"person_id": p, "name": n, "value_str": s, "value_num": x}
        for (p, n), (s, x) in data.traits.items()
    ]
    rows: dict[str, list[dict[str, Any]]] = {
        relations.PERSONS: [{"person_id": p} for p in data.persons],
        relations.PROFILES: profiles,
        relations.TRAITS: traits,
        relations.TAGS: [{"person_id": p, "tag_id": t} for p, t in data.tags],
        relations.IDENTIFIERS: [{"person_id": p, "id_type": t} for p, t in data.identifiers],
        relations.MEMBERS: [{"segment_id": s, "person_id": p} for s, p in data.members],
    }
    tables = {name: pa.Table.from_pylist(r, schema=SCHEMAS[name]) for name, r in rows.items()}
    full = [{**dict.fromkeys(EVENT_SCHEMA.names), **e} for e in data.events]
    tables["events"] = pa.Table.from_pylist(full, schema=EVENT_SCHEMA)
    return tables


def run_duckdb(sql: str, tables: dict[str, pa.Table]) -> set[str]:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    for name, table in tables.items():
        con.register(name, table)
    return {row[0] for row in con.sql(sql).fetchall()}


def run_chdb(sql: str, tables: dict[str, pa.Table]) -> set[str]:
    import chdb

    with tempfile.TemporaryDirectory() as tmp:
        ctes = []
        for name, table in tables.items():
            path = Path(tmp) / f"{name}.parquet"
            pq.write_table(table, path)
            ctes.append(f"{name} AS (SELECT * FROM file('{path}', Parquet))")
        body = sql[len("WITH ") :] if sql.startswith("WITH ") else sql
        joiner = ",\n" if sql.startswith("WITH ") else "\n"
        result = chdb.query(f"WITH {', '.join(ctes)}{joiner}{body}", "ArrowTable")
    return set(result.column(0).to_pylist()) if result.num_columns else set()
