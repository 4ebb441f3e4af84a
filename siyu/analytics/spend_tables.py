"""Tables of the measurement boards: channel spend per day, channel and campaign."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, String, Table

from siyu.core.db import UTCDateTime, metadata

channel_spend = Table(
    "channel_spend",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("day", Date(), primary_key=True),
    Column("channel", String(255), primary_key=True),
    # '' when the spend is for the channel as a whole (a key column cannot be NULL).
    Column("campaign", String(255), primary_key=True),
    Column("spend_fen", BigInteger(), nullable=False),
    Column("source", String(500), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""Money spent to acquire customers, in fen; one row per (day, channel, campaign)."""
