"""Shared fixtures: a frozen clock and one ``db`` fixture over SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import make_engine, make_session_factory
from siyu.migrations.registry import metadata

PG_URL = os.environ.get("SIYU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def now() -> datetime:
    """A frozen 'now' handed to domain logic."""
    return datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def fresh_pg_schema(schema: str) -> str:
    """Create (or empty) ``schema`` on the test server; the URL whose search_path is it.

    Skips the test when the server is down (``.ci/run`` starts it in CI).
    """
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # pragma: no cover - only when the server is down
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    finally:
        admin.dispose()
    return PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}"


def _pg_engine() -> Engine:
    # One schema per test process, so parallel runs (developers, CI) never collide.
    return make_engine(fresh_pg_schema(f"siyu_test_{os.getpid()}"))


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for name, engine in engines.items():
        if name == "postgresql":
            schema = f"siyu_test_{os.getpid()}"
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _engine_for(backend: str, engines: dict[str, Engine], tmp: pytest.TempPathFactory) -> Engine:
    if backend not in engines:
        if backend == "sqlite":
            engine = make_engine(f"sqlite:///{tmp.mktemp('db') / 'siyu.sqlite3'}")
        else:
            engine = _pg_engine()
        metadata.create_all(engine)
        engines[backend] = engine
    return engines[backend]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_engine(
    request: pytest.FixtureRequest,
    _engines: dict[str, Engine],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    """An engine on an empty operational store, once per backend (SQLite, PostgreSQL)."""
    engine = _engine_for(request.param, _engines, tmp_path_factory)
    yield engine
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(db_engine: Engine) -> sessionmaker[Session]:
    """A session factory on an empty operational store (SQLite and PostgreSQL)."""
    return make_session_factory(db_engine)
