"""Tables of the referral domain: stores, staff, live codes and scans, owners, referrals."""

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

referral_stores = Table(
    "referral_stores",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_referral_stores_name"),
)

referral_staff = Table(
    "referral_staff",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("store_id", String(40)),
    Column("wecom_userid", String(200)),
    Column("daily_cap", Integer()),
    Column("active", Boolean(), nullable=False),
    Column("shifts", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

live_codes = Table(
    "live_codes",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("scene", String(64), nullable=False),
    Column("store_id", String(40)),
    Column("staff", JSON(), nullable=False),
    Column("idempotency_key", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "scene", name="uq_live_codes_scene"),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_live_codes_idem"),
)

live_code_scans = Table(
    "live_code_scans",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("code_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("action", String(10), nullable=False),
    Column("staff_id", String(40)),
    Column("new_customer", Boolean(), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_live_code_scans_idem"),
    Index("ix_live_code_scans_code", "workspace_id", "code_id"),
    Index("ix_live_code_scans_staff_at", "workspace_id", "staff_id", "at"),
)

customer_owners = Table(
    "customer_owners",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("staff_id", String(40)),
    Column("store_id", String(40)),
    Column("source", String(20), nullable=False),
    Column("source_id", String(200)),
    Column("assigned_at", UTCDateTime(), nullable=False),
    Index("ix_customer_owners_staff", "workspace_id", "staff_id"),
    Index("ix_customer_owners_store", "workspace_id", "store_id"),
)

referral_codes = Table(
    "referral_codes",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("code", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "code", name="uq_referral_codes_code"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("invitee_id", String(40), primary_key=True),
    Column("inviter_id", String(40), nullable=False),
    Column("code", String(20), nullable=False),
    Column("depth", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_referrals_inviter", "workspace_id", "inviter_id"),
)

referral_refusals = Table(
    "referral_refusals",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("inviter_id", String(40), nullable=False),
    Column("invitee_id", String(40), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_referral_refusals_inviter_at", "workspace_id", "inviter_id", "at"),
)

referral_settings = Table(
    "referral_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("config", JSON(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

referral_rewards = Table(
    "referral_rewards",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("person_id", String(40), nullable=False),
    Column("invitee_id", String(40), nullable=False),
    Column("milestone", String(40), nullable=False),
    Column("role", String(10), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", BigInteger()),
    Column("template", String(200)),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("paid_at", UTCDateTime()),
    Index("ix_referral_rewards_status", "workspace_id", "status"),
)
