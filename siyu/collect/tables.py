"""Tables of the collect domain: the dedupe ledger and the durable inbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, String, Table

from siyu.core.db import UTCDateTime, metadata

# Every message id ever accepted, per workspace: a retried batch never double-counts.
collect_messages = Table(
    "collect_messages",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("message_id", String(200), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
)

# Accepted batches, committed in the same transaction as identity and profile changes (so a
# 2xx means durable), waiting to be moved to the event store in bulk by a flusher. One row
# per batch: its event-store rows as an Arrow IPC stream.
event_inbox = Table(
    "event_inbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("rows", Integer(), nullable=False),
    Column("payload", LargeBinary(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Never reuse a seq (SQLite would hand out max+1 again after the newest row is flushed):
    # the event store records appended seqs so a re-run flush writes nothing twice.
    sqlite_autoincrement=True,
)
