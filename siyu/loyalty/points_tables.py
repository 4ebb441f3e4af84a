"""Tables of the points ledger: immutable entries, the lots they open, accounts, rules, check-ins.

``points_entries`` is the truth; ``points_lots`` and ``points_accounts`` cache its replay (and
the account row is the lock every write of one member takes).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")
_WORKSPACE = "workspaces.id"

points_accounts = Table(
    "points_accounts",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("balance", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

points_entries = Table(
    "points_entries",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    # Signed, on the member's side; the contra account takes the opposite amount.
    Column("amount", BigInteger(), nullable=False),
    Column("contra_account", String(40), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("source", String(255), nullable=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("lot_id", BigInteger(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("balance_after", BigInteger(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index("ix_points_entries_ws_person_id", "workspace_id", "person_id", "id"),
    Index(
        "ix_points_entries_ws_person_reason_at", "workspace_id", "person_id", "reason", "created_at"
    ),
)

points_lots = Table(
    "points_lots",
    metadata,
    Column("id", BigInteger(), primary_key=True),  # the id of the entry that opened it
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("remaining", BigInteger(), nullable=False),
    Column("earned_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Index("ix_points_lots_ws_person_remaining", "workspace_id", "person_id", "remaining"),
    Index("ix_points_lots_expires_at", "expires_at"),
)

points_rules = Table(
    "points_rules",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    Column("rules", JSON(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

points_checkins = Table(
    "points_checkins",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("day", Date(), primary_key=True),
    Column("streak", Integer(), nullable=False),
    Column("entry_id", BigInteger(), nullable=True),
)

mall_items = Table(
    "mall_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # goods | coupon
    Column("coupon_template_id", String(40), nullable=True),
    Column("price_points", BigInteger(), nullable=False),
    Column("stock", BigInteger(), nullable=True),  # NULL = unlimited
    Column("per_person_limit", Integer(), nullable=True),  # NULL = unlimited
    Column("active", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_mall_items_ws", "workspace_id"),
)

mall_redemptions = Table(
    "mall_redemptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("points", BigInteger(), nullable=False),
    Column("entry_id", BigInteger(), nullable=False),
    Column("coupon_id", String(40), nullable=True),
    Column("idempotency_key", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "idempotency_key"),
    Index("ix_mall_redemptions_ws_item_person", "workspace_id", "item_id", "person_id"),
)
