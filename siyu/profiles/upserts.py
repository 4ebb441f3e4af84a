"""Bulk upserts that merge a batch into the stored profile rows inside the database.

Each ``SET`` clause combines the stored row with the incoming one (counts add, extremes
compare, a trait is replaced only by a later observation, ties broken on the value exactly as
:mod:`siyu.profiles.traits` breaks them), so concurrent writers never lose an update and no
row has to be read first.

The statements are compiled once per dialect and run through the driver's ``executemany``
with parameters already in the driver's form: on the ingest hot path SQLAlchemy's per-row
parameter processing cost more than the database work itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Insert, Table, Text, and_, case, cast, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.profiles.tables import profile_event_counts, profile_traits, profiles

Row = dict[str, Any]
# Rows per executemany call: keeps one call's memory and lock time bounded.
CHUNK = 1000
_PROFILE_TIMES = (
    "first_seen",
    "last_seen",
    "first_channel_at",
    "first_campaign_at",
    "last_order_at",
    "updated_at",
)


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _bytewise(dialect: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
    # Python breaks ties in code-point order; PostgreSQL's database collation may sort
    # otherwise, so compare bytes there ("C"). SQLite compares bytes already.
    return expr.collate("C") if dialect == "postgresql" else expr


def _earlier_touch(dialect: str, new: Any, old: Any, name: str) -> ColumnElement[bool]:
    at = f"{name}_at"
    new_name, old_name = _bytewise(dialect, new[name]), _bytewise(dialect, old[name])
    return or_(
        old[at].is_(None),
        new[at] < old[at],
        and_(new[at] == old[at], new_name < old_name),
    )


def _profiles_statement(dialect: str) -> Insert:
    stmt = _insert(dialect, profiles)
    new, old = stmt.excluded, profiles.c
    channel = _earlier_touch(dialect, new, old, "first_channel")
    campaign = _earlier_touch(dialect, new, old, "first_campaign")
    later_order = or_(old.last_order_at.is_(None), new.last_order_at > old.last_order_at)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[old.workspace_id, old.person_id],
        set_={
            "first_seen": case(
                (new.first_seen < old.first_seen, new.first_seen), else_=old.first_seen
            ),
            "last_seen": case((new.last_seen > old.last_seen, new.last_seen), else_=old.last_seen),
            "first_channel": case((channel, new.first_channel), else_=old.first_channel),
            "first_channel_at": case((channel, new.first_channel_at), else_=old.first_channel_at),
            "first_campaign": case((campaign, new.first_campaign), else_=old.first_campaign),
            "first_campaign_at": case(
                (campaign, new.first_campaign_at), else_=old.first_campaign_at
            ),
            "event_count": old.event_count + new.event_count,
            "order_count": old.order_count + new.order_count,
            "total_spend_fen": old.total_spend_fen + new.total_spend_fen,
            "last_order_at": case((later_order, new.last_order_at), else_=old.last_order_at),
            "updated_at": new.updated_at,
        },
    )


def _traits_statement(dialect: str) -> Insert:
    stmt = _insert(dialect, profile_traits)
    new, old = stmt.excluded, profile_traits.c
    new_text = _bytewise(dialect, cast(new.value, Text))
    old_text = _bytewise(dialect, cast(old.value, Text))
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[old.workspace_id, old.person_id, old.name],
        set_={"value": new.value, "observed_at": new.observed_at},
        where=or_(
            new.observed_at > old.observed_at,
            and_(new.observed_at == old.observed_at, new_text > old_text),
        ),
    )


def _counts_statement(dialect: str) -> Insert:
    stmt = _insert(dialect, profile_event_counts)
    new, old = stmt.excluded, profile_event_counts.c
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[old.workspace_id, old.person_id, old.event],
        set_={"count": old["count"] + new["count"]},
    )


_STATEMENTS: dict[str, Callable[[str], Insert]] = {
    "profiles": _profiles_statement,
    "traits": _traits_statement,
    "counts": _counts_statement,
}
_compiled: dict[tuple[str, str, str], str] = {}


def _sql(dialect: Dialect, target: str) -> str:
    key = (dialect.name, dialect.driver, target)
    if key not in _compiled:
        stmt = _STATEMENTS[target](dialect.name)
        if dialect.name == "sqlite":
            # Named parameters, so rows can be handed to sqlite3 as the dicts they are.
            dialect = sqlite.dialect(paramstyle="named")
        _compiled[key] = stmt.compile(dialect=dialect).string
    return _compiled[key]


def sqlite_time(value: datetime | None) -> str | None:
    """An aware datetime in the exact text SQLAlchemy stores for SQLite (naive UTC, µs)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def _run(session: Session, target: str, rows: Sequence[Row]) -> None:
    if not rows:
        return
    connection = session.connection()
    sql = _sql(connection.dialect, target)
    for start in range(0, len(rows), CHUNK):
        connection.exec_driver_sql(sql, list(rows[start : start + CHUNK]))


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def upsert_profiles(session: Session, rows: list[Row]) -> None:
    """Merge one row per person (all columns of ``profiles``) into the stored rows."""
    if _is_sqlite(session):
        for row in rows:
            for column in _PROFILE_TIMES:
                row[column] = sqlite_time(row[column])
    _run(session, "profiles", rows)


def upsert_traits(session: Session, rows: list[Row]) -> None:
    """Store each trait unless a later (or tied but larger) observation is stored already."""
    to_time = sqlite_time if _is_sqlite(session) else None
    for row in rows:
        row["value"] = json.dumps(row["value"])
        if to_time is not None:
            row["observed_at"] = to_time(row["observed_at"])
    _run(session, "traits", rows)


def upsert_event_counts(session: Session, rows: list[Row]) -> None:
    """Add each (person, event) count to the stored count."""
    _run(session, "counts", rows)
