"""Tables of the assistant: knowledge entries, synonyms, keyword rules, settings, groups,
opt-outs and unanswered questions. Group activity (joins, leaves, messages and what the
assistant did with them) is community's ``community_activity``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
)

from siyu.core.db import UTCDateTime, metadata

assistant_entries = Table(
    "assistant_entries",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(60), primary_key=True),
    Column("question", String(500), nullable=False),
    Column("alternatives", JSON(), nullable=False),
    Column("answer", Text(), nullable=False),
    Column("tags", JSON(), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

assistant_synonyms = Table(
    "assistant_synonyms",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("word", String(50), primary_key=True),
    Column("canonical", String(50), nullable=False),
)

assistant_rules = Table(
    "assistant_rules",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(60), primary_key=True),
    Column("pattern", String(300), nullable=False),
    Column("is_regex", Boolean(), nullable=False),
    Column("answer", Text(), nullable=False),
    Column("priority", Integer(), nullable=False),
    Column("enabled", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

assistant_settings = Table(
    "assistant_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("threshold", Float(), nullable=False),
    Column("min_margin", Float(), nullable=False),
    Column("handover_text", Text(), nullable=False),
    Column("welcome_text", Text(), nullable=False),
    Column("robot_webhook_url", String(500), info={"ciphertext": True}),
    Column("updated_at", UTCDateTime(), nullable=False),
)

assistant_groups = Table(
    "assistant_groups",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("chat_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("robot_webhook_url", String(500), info={"ciphertext": True}),
    Column("muted", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

assistant_optouts = Table(
    "assistant_optouts",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("member_id", String(100), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)

assistant_unanswered = Table(
    "assistant_unanswered",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("question_key", String(200), primary_key=True),
    Column("question", String(500), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("best_entry_id", String(60)),
    Column("best_confidence", Float(), nullable=False),
    Column("chat_id", String(100)),
    Column("first_at", UTCDateTime(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
)
