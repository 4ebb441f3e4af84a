"""Privacy tables: an audit log of unmasked views and exports, erasure receipts, and each
workspace's retention policy (raw events, outbox bodies, consent history, audit rows, group
texts). None of them holds a direct identifier: the
erasure log names its subject only by a keyed digest of the person id."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table

from siyu.core.db import UTCDateTime, metadata

privacy_audit = Table(
    "privacy_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("actor", String(200), nullable=False),  # who: account / key fingerprint
    Column("action", String(40), nullable=False),  # export | unmasked_view | erase
    # The person viewed; an erasure replaces it with the subject digest.
    Column("subject", String(80), nullable=False),
    Column("detail", JSON(), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
)
Index("ix_privacy_audit_workspace_at", privacy_audit.c.workspace_id, privacy_audit.c.at)

privacy_erasures = Table(
    "privacy_erasures",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("subject_digest", String(80), nullable=False),  # keyed hash of the person id
    Column("idempotency_key", String(200), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("counts", JSON(), nullable=False),  # {"store.table": rows, …}
    Column("receipt_hash", String(80), nullable=False),  # SHA-256 of the canonical receipt
    Column("signature", String(80), nullable=False),  # HMAC-SHA256 over the receipt hash
    Column("erased_at", UTCDateTime(), nullable=False),
)
Index(
    "ux_privacy_erasures_key",
    privacy_erasures.c.workspace_id,
    privacy_erasures.c.idempotency_key,
    unique=True,
)
Index(
    "ix_privacy_erasures_subject",
    privacy_erasures.c.workspace_id,
    privacy_erasures.c.subject_digest,
)

privacy_settings = Table(
    "privacy_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    # Days each kind is kept; NULL keeps it forever. The defaults (server side, so a row written
    # before a column existed gets them too) are explained in docs/privacy.md.
    Column("event_retention_days", Integer(), nullable=True),  # NULL = keep raw events
    Column("message_retention_days", Integer(), nullable=True, server_default="180"),
    Column("consent_history_retention_days", Integer(), nullable=True, server_default="1095"),
    Column("audit_retention_days", Integer(), nullable=True, server_default="1095"),
    Column("group_text_retention_days", Integer(), nullable=True, server_default="90"),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Every person id an erasure covered (the requested one and those it had absorbed), by keyed
# digest: a repeated request for any of them answers the stored receipt.
privacy_erased_subjects = Table(
    "privacy_erased_subjects",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("digest", String(80), primary_key=True),
    Column("erasure_id", String(40), nullable=False),
)
