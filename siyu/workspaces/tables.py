"""Tables of the workspaces domain."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from siyu.core.db import UTCDateTime, metadata

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("write_key", String(80), nullable=False, unique=True),
    Column("secret_key_hash", String(80), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
