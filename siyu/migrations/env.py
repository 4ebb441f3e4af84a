"""Alembic environment: migrate the connection siyu hands in, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from siyu.loyalty.points_tables import POINTS_POST_FUNCTION
from siyu.migrations.registry import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        _replace_functions()


def _replace_functions() -> None:
    # Stored functions are "repeatable migrations" (Flyway's R__ scripts): their text lives
    # beside the tables they serve and is re-created on every upgrade, so a change to it
    # needs no revision. CREATE OR REPLACE makes this idempotent.
    if context.get_context().dialect.name == "postgresql":
        context.execute(POINTS_POST_FUNCTION)


def run_migrations_online() -> None:
    """Use the connection in ``config.attributes`` (siyu.core.db.migrate) or open one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


run_migrations_online()
