"""Tables of the activities domain: activities, prizes, entries, teams, refusals, rewards."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from siyu.core.db import UTCDateTime, metadata

activities = Table(
    "activities",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("budget_fen", BigInteger()),
    Column("spent_fen", BigInteger(), nullable=False),
    Column("stock_left", BigInteger()),
    Column("config", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

activity_prizes = Table(
    "activity_prizes",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("activity_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("position", Integer(), nullable=False),
    Column("spec", JSON(), nullable=False),
    Column("stock", BigInteger()),  # units left; NULL = unlimited
    Column("won", BigInteger(), nullable=False),
)

# One row per action a person took; the key makes a retried action answer the first result.
activity_entries = Table(
    "activity_entries",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("activity_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("action", String(20), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("ip", String(64)),
    Column("day", String(10), nullable=False),  # local date in the workspace's zone
    Column("team_id", String(40)),
    Column("prize_id", String(40)),
    Column("roll", BigInteger()),
    Column("detail", JSON(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint(
        "workspace_id", "activity_id", "idempotency_key", name="uq_activity_entries_key"
    ),
    Index("ix_activity_entries_person_at", "workspace_id", "activity_id", "person_id", "at"),
    Index("ix_activity_entries_ip_at", "workspace_id", "activity_id", "ip", "at"),
)

# Per-person quota, taken by a conditional UPDATE so racing actions never pass a limit.
activity_quotas = Table(
    "activity_quotas",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("activity_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("total", Integer(), nullable=False),
    Column("day", String(10), nullable=False),
    Column("day_count", Integer(), nullable=False),
)

activity_teams = Table(
    "activity_teams",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("activity_id", String(40), nullable=False),
    Column("leader_id", String(40), nullable=False),
    Column("size", Integer(), nullable=False),
    Column("members", Integer(), nullable=False),
    Column("price_fen", BigInteger()),
    Column("status", String(10), nullable=False),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    Index("ix_activity_teams_status", "workspace_id", "status", "deadline"),
)

# A person's role in an activity (member, starter, helper, registered): once per campaign.
activity_members = Table(
    "activity_members",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("activity_id", String(40), primary_key=True),
    Column("role", String(12), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("team_id", String(40)),
    Column("cut_fen", BigInteger()),
    Column("joined_at", UTCDateTime(), nullable=False),
    Index("ix_activity_members_team", "workspace_id", "team_id"),
)

activity_refusals = Table(
    "activity_refusals",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("activity_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("action", String(20), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("field", String(40), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_activity_refusals_activity", "workspace_id", "activity_id", "reason"),
)

activity_rewards = Table(
    "activity_rewards",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("activity_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger()),
    Column("template", String(200)),
    Column("cost_fen", BigInteger(), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("paid_at", UTCDateTime()),
    Index("ix_activity_rewards_status", "workspace_id", "status"),
)
