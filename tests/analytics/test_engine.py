"""Both engines read the same Parquet segments and agree; merged persons count once."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from siyu.analytics.engine import ClickHouseEngine, Dialect, sql_literal, with_definitions
from siyu.core.errors import InvalidInputError
from tests.analytics.conftest import Engines
from tests.analytics.events import WORKSPACE, random_rows


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


def test_count_and_group_by_agree_on_duckdb_and_chdb(engines: Engines) -> None:
    duck, ch = engines(random_rows(persons=200, events=3_000, seed=1))
    sql = (
        "SELECT event, count(*) AS n, count(DISTINCT person_id) AS p "
        "FROM events GROUP BY event ORDER BY event"
    )
    assert _rows(duck.run(workspace_id=WORKSPACE, sql=sql)) == _rows(
        ch.run(workspace_id=WORKSPACE, sql=sql)
    )
    total = "SELECT count(*) AS n FROM events"
    assert _rows(duck.run(workspace_id=WORKSPACE, sql=total)) == [(3_000,)]
    assert _rows(ch.run(workspace_id=WORKSPACE, sql=total)) == [(3_000,)]


def test_person_map_merges_persons_on_both_engines(engines: Engines) -> None:
    duck, ch = engines(random_rows(persons=50, events=500, seed=2))
    mapping = [("p0001", "p0000"), ("p0002", "p0000")]
    sql = "SELECT count(DISTINCT person_id) AS p FROM events"
    for engine in (duck, ch):
        assert _rows(engine.run(workspace_id=WORKSPACE, sql=sql)) == [(50,)]
        assert _rows(engine.run(workspace_id=WORKSPACE, sql=sql, person_map=mapping)) == [(48,)]


def test_a_large_person_map_is_joined_not_inlined(engines: Engines) -> None:
    # More merges than fit in one statement's text: the map travels as a table.
    duck, ch = engines(random_rows(persons=1_500, events=6_000, seed=4))
    mapping = [(f"p{i:04d}", "p0000") for i in range(1, 1_200)]
    sql = "SELECT count(DISTINCT person_id) AS p, count(*) AS n FROM events"
    got = [_rows(e.run(workspace_id=WORKSPACE, sql=sql, person_map=mapping)) for e in (duck, ch)]
    assert got[0] == got[1]
    assert got[0][0][1] == 6_000


def test_extra_tables_and_leading_with_on_both_engines(engines: Engines) -> None:
    duck, ch = engines(random_rows(persons=20, events=200, seed=3))
    people = pa.table({"person_id": ["p0001", "p0002"]})
    sql = (
        "WITH chosen AS (SELECT person_id FROM people) "
        "SELECT count(*) AS n FROM events WHERE person_id IN (SELECT person_id FROM chosen)"
    )
    got = [
        _rows(e.run(workspace_id=WORKSPACE, sql=sql, tables={"people": people})) for e in (duck, ch)
    ]
    assert got[0] == got[1] and got[0][0][0] > 0


def test_empty_store_and_other_workspace_read_as_empty(engines: Engines) -> None:
    for engine in engines([]):
        assert _rows(engine.run(workspace_id="ws_none", sql="SELECT count(*) FROM events")) == [
            (0,)
        ]


def test_literals_escape_per_dialect() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert sql_literal("it's \\", Dialect.DUCKDB) == "'it''s \\'"
    assert sql_literal("it's \\", Dialect.CLICKHOUSE) == "'it\\'s \\\\'"
    assert sql_literal(at, Dialect.DUCKDB) == "TIMESTAMPTZ '2026-01-02 03:04:05.000000+00'"
    assert (
        sql_literal(at, Dialect.CLICKHOUSE)
        == "toDateTime64('2026-01-02 03:04:05.000000', 6, 'UTC')"
    )
    assert sql_literal([1, None, True], Dialect.DUCKDB) == "[1, NULL, true]"
    with pytest.raises(InvalidInputError):
        sql_literal(datetime(2026, 1, 1), Dialect.DUCKDB)  # noqa: DTZ001
    with pytest.raises(InvalidInputError):
        sql_literal(float("nan"), Dialect.DUCKDB)


def test_strings_round_trip_through_both_engines(engines: Engines) -> None:
    duck, ch = engines([])
    nasty = "a'b\\c\"d\n上海"
    assert duck.run(
        workspace_id=WORKSPACE, sql=f"SELECT {sql_literal(nasty, Dialect.DUCKDB)} AS s"
    ).to_pylist() == [{"s": nasty}]
    assert ch.run(
        workspace_id=WORKSPACE, sql=f"SELECT {sql_literal(nasty, Dialect.CLICKHOUSE)} AS s"
    ).to_pylist() == [{"s": nasty}]


def test_clickhouse_server_sql_filters_workspace_and_maps_persons() -> None:
    engine = ClickHouseEngine(client=None)
    sql = engine.sql_for(
        workspace_id="ws'1", sql="WITH 1 AS one SELECT one", person_map=[("a", "b")]
    )
    assert sql == (
        "WITH events AS (SELECT * REPLACE (transform(person_id, ['a'], ['b'], person_id) "
        "AS person_id) FROM events WHERE workspace_id = 'ws\\'1'),\n1 AS one SELECT one"
    )


def test_with_definitions_without_leading_with() -> None:
    assert (
        with_definitions(["a AS (SELECT 1)"], "SELECT * FROM a")
        == "WITH a AS (SELECT 1)\nSELECT * FROM a"
    )
