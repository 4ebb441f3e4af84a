"""Fixtures: an event store holding a dataset, and both engines over the same Parquet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from siyu.analytics.engine import ChdbEngine, DuckDBEngine, Engine
from siyu.core.eventstore import DuckDBEventStore
from tests.analytics.events import Row, table_of

Engines = Callable[[list[Row]], tuple[Engine, Engine]]


@pytest.fixture
def engines(tmp_path: Path) -> Engines:
    """Store ``rows`` (compacted, as in production) and return (DuckDB, chdb) engines."""

    def make(rows: list[Row]) -> tuple[Engine, Engine]:
        store = DuckDBEventStore(tmp_path / f"events{len(list(tmp_path.iterdir()))}")
        if rows:
            store.append(table_of(rows))
            store.compact("ws_test")
        return DuckDBEngine(store), ChdbEngine(store)

    return make
