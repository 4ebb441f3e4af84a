"""Tables of the channels domain: the outbox, templates, consent, policy, subscription ledger."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from siyu.core.db import UTCDateTime, metadata

_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

channel_messages = Table(
    "channel_messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("template", String(200), nullable=False),
    Column("provider_template_id", String(200), nullable=True),
    Column("params", JSON(), nullable=False),
    Column("content", Text, nullable=False),
    Column("subject", String(500), nullable=True),
    Column("purpose", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("source", String(200), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(30), nullable=True),
    Column("deferred", Boolean, nullable=False),  # moved to the end of quiet hours
    # Where to: clear for openids/URLs; phone and email only as AES-GCM ciphertext.
    Column("recipient", String(512), nullable=True),
    Column("recipient_encrypted", Text, nullable=True),
    Column("sender", String(200), nullable=True),
    Column("extra", JSON(), nullable=False),
    Column("send_at", UTCDateTime(), nullable=False),  # planned time; caps count by it
    Column("due_at", UTCDateTime(), nullable=True),  # next dispatch attempt (NULL: never)
    Column("lease_until", UTCDateTime(), nullable=True),  # SENDING claim expires then
    Column("attempts", Integer, nullable=False),
    Column("provider_message_id", String(200), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Retention emptied the body, subject, recipient and template params then (the counted
    # facts — status, channel, times, source, content id — stay for caps and reach).
    Column("redacted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_channel_messages_idem"),
    Index("ix_channel_messages_due", "status", "due_at"),
    Index("ix_channel_messages_person", "workspace_id", "person_id", "channel", "send_at"),
    Index("ix_channel_messages_source", "workspace_id", "source", "status"),
    Index("ix_channel_messages_provider_id", "provider_message_id"),
    # Retention's batch query (channels/retention.py): the messages still to redact, in the
    # order it takes them; redacted rows leave the index, so a batch reads only what it takes.
    Index(
        "ix_channel_messages_unredacted",
        "workspace_id",
        "send_at",
        "id",
        sqlite_where=text("redacted_at IS NULL"),
        postgresql_where=text("redacted_at IS NULL"),
    ),
)

channel_templates = Table(
    "channel_templates",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("subject", String(500), nullable=True),
    Column("body", Text, nullable=False),
    Column("provider_template_id", String(200), nullable=True),
    Column("app_id", String(100), nullable=True),  # which official account / mini program
    Column("sender", String(200), nullable=True),  # SMS sign name, From address…
    Column("endpoint", String(1000), nullable=True),  # webhook URL
    Column("updated_at", UTCDateTime(), nullable=False),
)

channel_consents = Table(
    "channel_consents",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("status", String(10), nullable=False),  # granted | revoked
    Column("source", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

channel_consent_history = Table(
    "channel_consent_history",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("source", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_channel_consent_history_person", "workspace_id", "person_id", "channel"),
)

channel_policies = Table(
    "channel_policies",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("config", JSON(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

mp_subscriptions = Table(
    "mp_subscriptions",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("template_id", String(200), primary_key=True),
    Column("remaining", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("remaining >= 0", name="remaining_not_negative"),
)

mp_subscription_grants = Table(
    "mp_subscription_grants",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("event_key", String(200), primary_key=True),  # the accept event: granted once
    Column("person_id", String(40), nullable=False),
    Column("template_id", String(200), nullable=False),
    Column("count", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
