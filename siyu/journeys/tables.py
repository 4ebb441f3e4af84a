"""Tables of journeys: journeys, their immutable versions, per-entry states, and the step log."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from siyu.core.db import UTCDateTime, metadata

_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

journeys = Table(
    "journeys",
    metadata,
    Column("workspace_id", String(40), nullable=False),
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # draft | active | paused | archived
    Column("trigger_type", String(20), nullable=False),  # of the current version
    Column("current_version", Integer(), nullable=True),  # NULL until first published
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("workspace_id", "name"),
    Index("ix_journeys_ws_status", "workspace_id", "status"),
)

# A published version is never changed: people keep stepping on the version they entered.
journey_versions = Table(
    "journey_versions",
    metadata,
    Column("journey_id", String(40), primary_key=True),
    Column("version", Integer(), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("definition", JSON(), nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
)

# One row per person per entry. due_at is NULL once the entry has ended, so the claim
# index holds only live states; a state waiting for an event has due_at = its timeout.
journey_states = Table(
    "journey_states",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), nullable=False),
    Column("journey_id", String(40), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("entry_no", Integer(), nullable=False),
    Column("entry_key", String(200), nullable=False),  # message id, date, run… (dedupes)
    Column("node_id", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("wait_event", String(255), nullable=True),
    Column("variant", String(40), nullable=True),
    Column("steps", Integer(), nullable=False),  # bumped on every change: a guard for races
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    # Person before journey: entry checks and event reactions look people up by person (a
    # batch of them), and no index may lead with (workspace, journey) — with a journey's
    # row estimate stale (a new journey filling fast) the planner would scan all its rows
    # per lookup. Every step writes every index (due_at moves), so there are only three;
    # stats per journey scan the table.
    UniqueConstraint("workspace_id", "person_id", "journey_id", "entry_no"),
    UniqueConstraint("workspace_id", "person_id", "journey_id", "entry_key"),
    Index("ix_journey_states_ws_due", "workspace_id", "due_at"),
)

# The step log for stats: kind = entered (ran the node) | sent | failed | converted | ended.
journey_events = Table(
    "journey_events",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("journey_id", String(40), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("state_id", String(40), nullable=False),
    Column("variant", String(40), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_journey_events_journey_node_kind", "journey_id", "node_id", "kind"),
)
