"""Tables of the content domain: items, their versions, and tracked links per sharer."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint

from siyu.core.db import UTCDateTime, metadata

content_items = Table(
    "content_items",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("url", String(2000), nullable=True),
    Column("media_path", String(1000), nullable=True),
    Column("tags", JSON(), nullable=False),
    Column("status", String(20), nullable=False),
    Column("variants", JSON(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("idempotency_key", String(150), nullable=True),  # a retried create returns the first
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_content_items_key"),
)

# Every saved version of an item (the item as it was after that edit), newest has the highest.
content_versions = Table(
    "content_versions",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("content_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("snapshot", JSON(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(200), nullable=False),
)

# A tracked link. The code is global (the public redirect finds the workspace from it); one
# link per (item, channel, sharer) — the unique key makes a concurrent twin lose and reread.
content_links = Table(
    "content_links",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("content_id", String(40), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("sharer_key", String(40), nullable=False),  # the sharer's person id, or "-"
    Column("parent_code", String(20), nullable=True),
    Column("depth", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "content_id", "channel", "sharer_key", name="uq_content_link"),
    Index("ix_content_links_item", "workspace_id", "content_id"),
)
