"""The operational store: one SQLAlchemy metadata, engines for SQLite and PostgreSQL, migrations.

Every domain declares its tables in its own ``tables.py`` on :data:`metadata`; Alembic
migrations under ``siyu/migrations`` create them. The same code runs on SQLite (embedded
default, WAL mode) and PostgreSQL.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    Row,
    Table,
    create_engine,
    event,
    exc,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from siyu.core.errors import StoreError

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """An aware-UTC datetime on every backend (SQLite stores naive values; we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; busy_timeout makes a second process
    # (siyu import while siyu serve runs) wait for the write lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading read locks.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout and immediate transactions."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgresql_settings)
    return engine


def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
    # Compiled segments quote string literals the standard way ('' for a quote, backslash an
    # ordinary character); a server configured otherwise would read them differently.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET standard_conforming_strings = on")
    dbapi_connection.commit()


# What a failing store says, and the reason a client is given (never the driver's own text,
# which may name hosts and ports). Looked for in order, in the lowered error text.
_REASONS = [
    (("database or disk is full", "no space left", "disk full", "could not extend file"),
     "out of disk space"),
    (("database is locked", "lock timeout", "canceling statement due to lock"),
     "the database is locked by another writer"),
    (("readonly database", "read-only", "read only"), "the store is read-only"),
]  # fmt: skip
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO}


def store_error_of(error: BaseException) -> StoreError | None:
    """The :class:`StoreError` a database or disk failure amounts to; None for anything else
    (a constraint violation or a bug is not an outage and keeps its own handling).

    A fault: the connection is gone or refused, the pool is exhausted, the database is
    locked past the busy timeout, the disk is full or read-only.
    """
    if isinstance(error, StoreError):
        return error
    if isinstance(error, exc.TimeoutError):
        reason = "no database connection free in time"
    elif isinstance(error, exc.OperationalError | exc.InterfaceError) or (
        isinstance(error, exc.DBAPIError) and error.connection_invalidated
    ):
        reason = _reason(str(error.orig if isinstance(error, exc.DBAPIError) else error))
    elif isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
        reason = "out of disk space" if error.errno != errno.EROFS else "the store is read-only"
    else:
        return None
    return StoreError(
        f"the store is unavailable ({reason}); nothing was kept, retry later", reason=reason
    )


def is_unique_violation(error: exc.IntegrityError) -> bool:
    """Whether ``error`` is a duplicate key (not a NOT NULL or foreign-key violation)."""
    if getattr(error.orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    text = str(error.orig)
    return text.startswith("UNIQUE constraint failed")  # SQLite, primary keys included


def insert_ignore(
    session: Session,
    table: Table,
    rows: dict[str, Any] | list[dict[str, Any]],
    *,
    returning: Sequence[ColumnElement[Any]] = (),
) -> list[Row[Any]]:
    """``INSERT … ON CONFLICT DO NOTHING`` of one row (a dict) or many (a list, one
    executemany) on SQLite or PostgreSQL: a row that hits any unique constraint is skipped.

    With ``returning`` columns, the rows that went in (one per inserted row, none for a
    skipped one): the way to tell, since psycopg reports rowcount -1 for this insert.
    Without, an empty list.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt: Any = builder(table).on_conflict_do_nothing()
    if returning:
        stmt = stmt.returning(*returning)
    # A list runs as one executemany; with RETURNING SQLAlchemy batches it into multi-row
    # VALUES with one cached compilation.
    result = session.connection().execute(stmt, rows)
    return list(result.all()) if returning else []


def _reason(text: str) -> str:
    lowered = text.lower()
    for needles, reason in _REASONS:
        if any(n in lowered for n in needles):
            return reason
    return "cannot reach the database"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose sessions keep loaded values after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Any:
    """An Alembic config pointing at the packaged migrations and ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema at ``engine`` to the newest migration."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
