"""Tables of membership: tier definitions and policy, members, growth entries, tier history,
and paid membership terms.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

loyalty_tiers = Table(
    "loyalty_tiers",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("min_growth", Integer(), nullable=False),
    Column("points_multiplier_pct", Integer(), nullable=False),  # 150 = 1.5× points
    Column("upgrade_coupon_template_ids", JSON(), nullable=False),
    Column("free_shipping", Boolean(), nullable=False),
    Column("birthday_points", Integer(), nullable=False),
    Column("birthday_coupon_template_id", String(40), nullable=True),
    Column("fee_fen", Integer(), nullable=True),  # paid tier: price of one term
    Column("term_days", Integer(), nullable=True),
)

loyalty_tier_policies = Table(
    "loyalty_tier_policies",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("window_days", Integer(), nullable=False),
    Column("period_days", Integer(), nullable=False),
    Column("grace_days", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("member_no", String(200), nullable=True),
    Column("source", String(20), nullable=False),  # api | identify | import
    Column("enrolled_at", UTCDateTime(), nullable=False),
    Column("tier", String(40), nullable=False),
    Column("tier_since", UTCDateTime(), nullable=False),
    Column("growth", Integer(), nullable=False),
    Column("downgrade_at", UTCDateTime(), nullable=True),
    Column("evaluated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "member_no"),
    Index("ix_members_ws_tier", "workspace_id", "tier"),
)

member_growth = Table(
    "member_growth",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("amount", Integer(), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index("ix_member_growth_ws_person", "workspace_id", "person_id", "at"),
)

member_tier_history = Table(
    "member_tier_history",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("from_tier", String(40), nullable=True),
    Column("to_tier", String(40), nullable=False),
    Column("change", String(10), nullable=False),  # enrol | upgrade | downgrade
    Column("growth", Integer(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_member_tier_history_ws_person", "workspace_id", "person_id"),
)

paid_memberships = Table(
    "paid_memberships",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("tier", String(40), nullable=False),
    Column("fee_fen", Integer(), nullable=False),
    Column("order_id", String(200), nullable=True),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_paid_memberships_ws_person", "workspace_id", "person_id", "ends_at"),
)
