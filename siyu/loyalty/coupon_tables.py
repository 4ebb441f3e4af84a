"""Tables of coupons: templates (with the issued counter), coupons, per-person holdings, and
the idempotency keys of retriable loyalty writes.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text

from siyu.core.db import UTCDateTime, metadata

coupon_templates = Table(
    "coupon_templates",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # amount_off | percent_off
    Column("amount_off_fen", Integer(), nullable=True),
    Column("percent_off", Integer(), nullable=True),
    Column("cap_fen", Integer(), nullable=True),
    Column("threshold_fen", Integer(), nullable=False),
    Column("product_ids", JSON(), nullable=True),
    Column("valid_from", UTCDateTime(), nullable=True),
    Column("valid_until", UTCDateTime(), nullable=True),
    Column("valid_days", Integer(), nullable=True),
    Column("per_person_limit", Integer(), nullable=True),
    Column("stock", Integer(), nullable=True),  # null: no cap
    # Raised only by a conditional UPDATE (issued < stock), so it never passes stock.
    Column("issued", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_coupon_templates_ws", "workspace_id"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("template_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("status", String(10), nullable=False),  # issued | redeemed | expired | voided
    Column("source", String(40), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("valid_from", UTCDateTime(), nullable=False),
    Column("valid_until", UTCDateTime(), nullable=True),
    Column("order_id", String(200), nullable=True),
    Column("order_amount_fen", Integer(), nullable=True),
    Column("discount_fen", Integer(), nullable=True),
    Column("redeemed_at", UTCDateTime(), nullable=True),
    Column("voided_at", UTCDateTime(), nullable=True),
    Column("void_reason", Text(), nullable=True),
    Index("ix_coupons_ws_person", "workspace_id", "person_id"),
    Index("ix_coupons_ws_template", "workspace_id", "template_id"),
    Index("ix_coupons_ws_status_until", "workspace_id", "status", "valid_until"),
)

# One row per (template, survivor person) of a template with a per-person limit: the row an
# issue locks before counting the person's coupons (coupon_limits), so racing claims cannot
# pass the limit. ``held`` is the count after the last issue, for reading; the limit is
# always counted from the coupons themselves (voided ones do not count).
coupon_holdings = Table(
    "coupon_holdings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("template_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("held", Integer(), nullable=False),
)

# A retried write finds its key here and answers the stored result.
loyalty_request_keys = Table(
    "loyalty_request_keys",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("scope", String(40), primary_key=True),  # the operation, e.g. coupon.issue
    Column("key", String(200), primary_key=True),
    Column("result", JSON(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
