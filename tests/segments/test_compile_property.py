"""The compiled SQL selects exactly what the reference evaluator selects (DuckDB and chdb)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from siyu.segments.compile import to_sql
from siyu.segments.models import Condition
from tests.segments.harness import run_chdb, run_duckdb, tables_of
from tests.segments.reference import Data, evaluate
from tests.segments.strategies import NOW, datasets, definitions

_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(data=datasets(), definition=definitions)
def test_duckdb_selects_what_the_reference_selects(data: Data, definition: Condition) -> None:
    sql = to_sql(definition, "duckdb", now=NOW).sql
    assert run_duckdb(sql, tables_of(data)) == evaluate(definition, data, NOW)


@settings(_SETTINGS, max_examples=40)
@given(data=datasets(), definition=definitions)
def test_clickhouse_selects_what_the_reference_selects(data: Data, definition: Condition) -> None:
    sql = to_sql(definition, "clickhouse", now=NOW).sql
    assert run_chdb(sql, tables_of(data)) == evaluate(definition, data, NOW)
