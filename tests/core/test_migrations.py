"""The migration builds exactly the schema the tables declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from siyu.core.db import make_engine, migrate
from siyu.migrations.registry import metadata
from tests.conftest import fresh_pg_schema


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_migrated_schema_matches_the_tables(backend: str, tmp_path: Path) -> None:
    url = (
        f"sqlite:///{tmp_path / 'm.sqlite3'}"
        if backend == "sqlite"
        else fresh_pg_schema(f"siyu_mig_{os.getpid()}")
    )
    engine = make_engine(url)
    migrate(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    # Regenerate with `python scripts/regenerate_migration.py` when this fails.
    assert diff == []


@pytest.mark.postgres
def test_migration_installs_the_points_function_on_postgresql() -> None:
    engine = make_engine(fresh_pg_schema(f"siyu_mig_fn_{os.getpid()}"))
    migrate(engine)
    migrate(engine)  # re-running replaces the function, it does not fail
    with engine.connect() as connection:
        found = connection.execute(text("SELECT to_regproc('siyu_points_post')")).scalar()
    engine.dispose()
    assert found is not None
