"""Tables of tags: groups, tags, who holds which tag, the history of changes, and notes.

Assignments are kept per person id as tagged (the survivor at the time); reads combine a
person with every person it absorbed, like profiles, so a merge never rewrites tags.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

tag_groups = Table(
    "tag_groups",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(10), nullable=False),  # manual | rule | model
    Column("exclusive", Boolean(), nullable=False),  # at most one tag of the group per person
    Column("description", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "name"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("group_id", String(40), ForeignKey("tag_groups.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("position", Integer(), nullable=False),  # order in the group (first rule wins)
    Column("rule", JSON(), nullable=True),  # rule tags: a segment definition
    Column("description", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("refreshed_at", UTCDateTime(), nullable=True),  # rule tags: last recomputed
    UniqueConstraint("group_id", "name"),
    Index("ix_tags_ws_group", "workspace_id", "group_id"),
)

person_tags = Table(
    "person_tags",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("tag_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("group_id", String(40), nullable=False),
    Column("source", String(10), nullable=False),  # manual | rule | model
    Column("assigned_by", String(200), nullable=True),  # operator, for manual tags
    Column("assigned_at", UTCDateTime(), nullable=False),
    Index("ix_person_tags_ws_person", "workspace_id", "person_id"),
    Index("ix_person_tags_ws_group", "workspace_id", "group_id"),
)

tag_history = Table(
    "tag_history",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("tag_id", String(40), nullable=False),
    Column("group_id", String(40), nullable=False),
    Column("change", String(10), nullable=False),  # gained | lost
    Column("source", String(10), nullable=False),  # manual | rule | model
    Column("actor", String(200), nullable=True),  # who, for manual changes
    Column("reason", Text(), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_tag_history_ws_person", "workspace_id", "person_id"),
)

person_notes = Table(
    "person_notes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("body", Text(), nullable=False),
    Column("author", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_person_notes_ws_person", "workspace_id", "person_id"),
)
