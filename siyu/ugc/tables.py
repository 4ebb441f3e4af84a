"""Tables of the UGC domain: posts, their metric reports over time, reward rules."""

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

# One customer post or review. (platform, external_id) and the Idempotency-Key each make a
# re-sent post answer the first one; status moves by conditional UPDATEs only.
ugc_posts = Table(
    "ugc_posts",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("person_id", String(40), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("external_id", String(200)),
    Column("idempotency_key", String(200)),
    Column("url", String(2000)),
    Column("text", Text()),
    Column("images", JSON(), nullable=False),
    Column("rating", Integer()),
    Column("product_ids", JSON(), nullable=False),
    Column("campaign", String(100)),
    Column("posted_at", UTCDateTime(), nullable=False),
    Column("status", String(10), nullable=False),
    Column("reason", String(500)),
    Column("moderated_by", String(200)),
    Column("moderated_at", UTCDateTime()),
    Column("reward", JSON()),  # what was paid, once: {"kind", "amount"|"template", "key"}
    Column("rewarded_at", UTCDateTime()),
    Column("views", BigInteger(), nullable=False),
    Column("likes", BigInteger(), nullable=False),
    Column("shares", BigInteger(), nullable=False),
    Column("comments", BigInteger(), nullable=False),
    Column("metrics_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "platform", "external_id", name="uq_ugc_posts_external"),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_ugc_posts_key"),
    Index("ix_ugc_posts_status", "workspace_id", "status", "posted_at"),
    Index("ix_ugc_posts_person", "workspace_id", "person_id"),
)

# Metrics as the platform reported them at a time (cumulative counts): reach over a period is
# the growth between the last report before it and the last report in it.
ugc_metric_reports = Table(
    "ugc_metric_reports",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("post_id", String(40), primary_key=True),
    Column("at", UTCDateTime(), primary_key=True),
    Column("views", BigInteger(), nullable=False),
    Column("likes", BigInteger(), nullable=False),
    Column("shares", BigInteger(), nullable=False),
    Column("comments", BigInteger(), nullable=False),
)

# What an approved post earns: campaign "*" is the workspace's default.
ugc_reward_rules = Table(
    "ugc_reward_rules",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("campaign", String(100), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger()),
    Column("template", String(200)),
    Column("updated_at", UTCDateTime(), nullable=False),
)
