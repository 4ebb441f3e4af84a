"""Tables of the profiles domain: one row per person, plus traits and per-event counts.

Rows are kept per *original* person id; merged persons are combined when read, so a merge or
a split never rewrites these tables.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table

from siyu.core.db import UTCDateTime, metadata
from siyu.profiles.traits import NAME_MAX

profiles = Table(
    "profiles",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("first_channel", String(NAME_MAX)),
    Column("first_channel_at", UTCDateTime()),
    Column("first_campaign", String(NAME_MAX)),
    Column("first_campaign_at", UTCDateTime()),
    Column("event_count", BigInteger(), nullable=False),
    Column("order_count", Integer(), nullable=False),
    Column("total_spend_fen", BigInteger(), nullable=False),
    Column("last_order_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
)

profile_traits = Table(
    "profile_traits",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("name", String(NAME_MAX), primary_key=True),
    Column("value", JSON(), nullable=True),
    Column("observed_at", UTCDateTime(), nullable=False),
)

profile_event_counts = Table(
    "profile_event_counts",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("event", String(NAME_MAX), primary_key=True),
    Column("count", BigInteger(), nullable=False),
)
