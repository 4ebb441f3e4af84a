"""Tables of saved segments: definitions, current members, and the log of who entered/left."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

segments = Table(
    "segments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text(), nullable=True),
    Column("definition", JSON(), nullable=False),
    Column("refresh_minutes", Integer(), nullable=True),  # NULL: refreshed on demand only
    Column("members", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("refreshed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("workspace_id", "name"),
)

segment_members = Table(
    "segment_members",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("segment_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("entered_at", UTCDateTime(), nullable=False),
)

# Journeys read this log in id order (?after=) to trigger on entering or leaving.
segment_changes = Table(
    "segment_changes",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("segment_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("change", String(10), nullable=False),  # entered | left
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_segment_changes_ws_segment_id", "workspace_id", "segment_id", "id"),
)
