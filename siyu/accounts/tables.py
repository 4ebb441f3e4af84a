"""Tables of the accounts domain: users, memberships, sessions, password resets, sign-in
throttle, API keys."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table

from siyu.core.db import UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

workspace_members = Table(
    "workspace_members",
    metadata,
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_workspace_members_user", "user_id"),
)

# A session token is shown once at sign-in; only its SHA-256 is kept.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_user_sessions_user", "user_id"),
)

# A one-time password reset an owner or admin issued; only the token's SHA-256 is kept.
password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("users.id"), nullable=False),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("issued_by", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Index("ix_password_resets_user", "user_id"),
)

# One row per throttled subject: "user:<email>" or "ip:<address>".
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("subject", String(300), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Write keys (collect only) and secret keys (management, with scopes); only hashes kept.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("name", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("hint", String(12), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("rotated_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Index("ix_api_keys_workspace", "workspace_id"),
)
