"""Tables of the identity domain: the identifier graph, its history, rules and stored links."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from siyu.core.db import UTCDateTime, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")
_WORKSPACE = "workspaces.id"

identity_rules = Table(
    "identity_rules",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    Column("id_type", String(40), primary_key=True),
    Column("priority", Integer, nullable=False),
    Column("max_per_person", Integer, nullable=True),  # NULL = unlimited
    Column("updated_at", UTCDateTime(), nullable=False),
)

identity_persons = Table(
    "identity_persons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("rank", BigInteger, nullable=False),  # creation order: the older wins merge ties
    Column("created_at", UTCDateTime(), nullable=False),
    Column("message_id", String(255), nullable=True),  # the message that created it
    # The person it is merged into now (flattened to the surviving root); NULL while alive.
    Column("survivor_id", String(40), nullable=True),
    Index("ix_identity_persons_ws_survivor", "workspace_id", "survivor_id"),
    Index("ix_identity_persons_ws_rank", "workspace_id", "rank"),
)

identity_identifiers = Table(
    "identity_identifiers",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    # key before type so one `key IN (…)` look-up serves a batch of mixed types.
    Column("key", String(512), primary_key=True),
    Column("id_type", String(40), primary_key=True),
    Column("person_id", String(40), nullable=False),  # the surviving person holding it now
    Column("origin_person_id", String(40), nullable=False),  # the person that introduced it
    Column("masked", String(200), nullable=True),  # PII only: display form
    Column("encrypted", Text, nullable=True),  # PII only: AES-GCM ciphertext
    Column("first_seen", UTCDateTime(), nullable=False),
    Index("ix_identity_identifiers_ws_person", "workspace_id", "person_id"),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("message_id", String(255), nullable=False),
    Column("identifiers", Text, nullable=False),  # JSON [[type, key], …] in arrival order
    Column("created_at", UTCDateTime(), nullable=False),
)

identity_merges = Table(
    "identity_merges",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("survivor_id", String(40), nullable=False),
    Column("absorbed_id", String(40), nullable=False),
    Column("message_id", String(255), nullable=True),  # why: the linking message
    Column("reason", String(20), nullable=False),  # link | rebuild
    Column("merged_at", UTCDateTime(), nullable=False),
    Column("split_at", UTCDateTime(), nullable=True),
    Column("split_reason", Text, nullable=True),
    Index("ix_identity_merges_ws_survivor", "workspace_id", "survivor_id"),
    Index("ix_identity_merges_ws_absorbed", "workspace_id", "absorbed_id"),
)

identity_conflicts = Table(
    "identity_conflicts",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("message_id", String(255), nullable=True),
    Column("person_id", String(40), nullable=False),  # the message's person
    Column("other_person_id", String(40), nullable=False),  # the person it was not merged with
    Column("id_type", String(40), nullable=False),  # the type whose limit (or block) refused
    Column("identifiers", Text, nullable=False),  # JSON [[type, key], [type, key]]
    Column("reason", String(20), nullable=False),  # limit | blocked
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_identity_conflicts_ws_id", "workspace_id", "id"),
    # Conflicts of given persons (shared_identifiers: the referral anti-fraud check).
    Index("ix_identity_conflicts_ws_person", "workspace_id", "person_id"),
    Index("ix_identity_conflicts_ws_other", "workspace_id", "other_person_id"),
)

identity_blocks = Table(
    "identity_blocks",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("other_person_id", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The identifiers each side held at the split; a person holding one side never merges with a
# person holding the other (kept by identifier so a rebuild can honour it too).
identity_block_members = Table(
    "identity_block_members",
    metadata,
    Column("block_id", BigInteger, ForeignKey("identity_blocks.id"), primary_key=True),
    Column("side", SmallInteger, primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("id_type", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey(_WORKSPACE), nullable=False),
    Index("ix_identity_block_members_ws", "workspace_id"),
)
