"""Tables of the points ledger: immutable entries, the lots they open, accounts, rules, check-ins.

``points_entries`` is the truth; ``points_lots`` and ``points_accounts`` cache its replay (and
the account row is the lock every write of one member takes).
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
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
    event,
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

# PostgreSQL only: one write of the points service (earn, spend or adjustment) as one call —
# lock the account, answer a retry with its original entry, check the caller's rules are the
# stored ones, cut to the day's cap, pick the lots a spend takes first-in-first-out, append the
# entry, open or take from lots and set the balance. The same steps as the portable path in
# points.py (which SQLite and every other kind of write uses); what it cannot do (no account
# yet, rules changed, a key taken meanwhile by another request) it reports in ``r_status`` and
# the caller falls back to that path. Without this function the service simply never takes
# the fast path.
POINTS_POST_FUNCTION = """
CREATE OR REPLACE FUNCTION siyu_points_post(
  p_ws text, p_person text, p_kind text, p_amount bigint, p_contra text, p_reason text,
  p_source text, p_key text, p_expires_at timestamptz, p_now timestamptz,
  p_check_rules boolean, p_rules jsonb, p_cap bigint, p_day_start timestamptz,
  p_day_end timestamptz,
  OUT r_status text, OUT r_id bigint, OUT r_person text, OUT r_kind text, OUT r_amount bigint,
  OUT r_contra text, OUT r_reason text, OUT r_source text, OUT r_lot_id bigint,
  OUT r_expires_at timestamptz, OUT r_balance_after bigint, OUT r_created_at timestamptz,
  OUT r_balance bigint, OUT r_available bigint
) LANGUAGE plpgsql AS $fn$
DECLARE
  v_amount bigint := p_amount;
  v_left bigint;
  v_taken bigint;
  v_lot record;
  v_ids bigint[] := '{}';
  v_takes bigint[] := '{}';
BEGIN
  SELECT a.balance INTO r_balance FROM points_accounts a
   WHERE a.workspace_id = p_ws AND a.person_id = p_person FOR UPDATE;
  IF NOT FOUND THEN
    r_status := 'no_account';
    RETURN;
  END IF;
  SELECT e.id, e.person_id, e.kind, e.amount, e.contra_account, e.reason, e.source, e.lot_id,
         e.expires_at, e.balance_after, e.created_at
    INTO r_id, r_person, r_kind, r_amount, r_contra, r_reason, r_source, r_lot_id,
         r_expires_at, r_balance_after, r_created_at
    FROM points_entries e WHERE e.workspace_id = p_ws AND e.idempotency_key = p_key;
  IF FOUND THEN
    r_status := 'replayed';
    RETURN;
  END IF;
  IF p_check_rules AND (SELECT CAST(r.rules AS jsonb) FROM points_rules r
                        WHERE r.workspace_id = p_ws) IS DISTINCT FROM p_rules THEN
    r_status := 'stale_rules';
    RETURN;
  END IF;
  IF p_cap IS NOT NULL THEN
    SELECT greatest(0, least(p_amount, p_cap - coalesce(sum(e.amount), 0))) INTO v_amount
      FROM points_entries e
     WHERE e.workspace_id = p_ws AND e.person_id = p_person AND e.reason = p_reason
       AND e.kind = 'earn' AND e.created_at >= p_day_start AND e.created_at < p_day_end;
    IF v_amount = 0 THEN
      r_status := 'nothing';
      RETURN;
    END IF;
  END IF;
  IF v_amount < 0 THEN
    v_left := -v_amount;
    FOR v_lot IN SELECT l.id, l.remaining FROM points_lots l
                  WHERE l.workspace_id = p_ws AND l.person_id = p_person AND l.remaining > 0
                  ORDER BY l.id LOOP
      EXIT WHEN v_left = 0;
      v_taken := least(v_lot.remaining, v_left);
      v_ids := v_ids || v_lot.id;
      v_takes := v_takes || v_taken;
      v_left := v_left - v_taken;
    END LOOP;
    IF v_left > 0 THEN
      r_status := 'short';
      r_available := -v_amount - v_left;
      RETURN;
    END IF;
  END IF;
  r_expires_at := CASE WHEN v_amount > 0 THEN p_expires_at END;
  INSERT INTO points_entries (workspace_id, person_id, kind, amount, contra_account, reason,
    source, idempotency_key, lot_id, expires_at, balance_after, created_at)
  VALUES (p_ws, p_person, p_kind, v_amount, p_contra, p_reason, p_source, p_key, NULL,
    r_expires_at, r_balance + v_amount, p_now)
  ON CONFLICT DO NOTHING RETURNING id INTO r_id;
  IF r_id IS NULL THEN
    r_status := 'taken_key';
    RETURN;
  END IF;
  IF v_amount > 0 THEN
    INSERT INTO points_lots (id, workspace_id, person_id, amount, remaining, earned_at, expires_at)
    VALUES (r_id, p_ws, p_person, v_amount, v_amount, p_now, p_expires_at);
  ELSE
    UPDATE points_lots l SET remaining = l.remaining - t.taken
      FROM unnest(v_ids, v_takes) AS t(id, taken) WHERE l.id = t.id;
  END IF;
  UPDATE points_accounts a SET balance = r_balance + v_amount, updated_at = p_now
   WHERE a.workspace_id = p_ws AND a.person_id = p_person;
  r_status := 'ok';
  r_person := p_person;
  r_kind := p_kind;
  r_amount := v_amount;
  r_contra := p_contra;
  r_reason := p_reason;
  r_source := p_source;
  r_balance_after := r_balance + v_amount;
  r_balance := r_balance_after;
  r_created_at := p_now;
END
$fn$
"""

_POINTS_POST_DDL = DDL(POINTS_POST_FUNCTION)  # type: ignore[no-untyped-call]
event.listen(points_lots, "after_create", _POINTS_POST_DDL.execute_if(dialect="postgresql"))
