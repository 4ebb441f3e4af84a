"""Tables of layered operations: per-workspace settings, RFM scores, lifecycle states and
the transitions between them.

Scores and states are replaced whole by each run, keyed by the surviving person of that run;
transitions are append-only history.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, SmallInteger, String, Table

from siyu.core.db import UTCDateTime, metadata

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")

layer_settings = Table(
    "layer_settings",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("name", String(40), primary_key=True),  # rfm | lifecycle | ltv | ltv_model
    Column("value", JSON(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

rfm_scores = Table(
    "rfm_scores",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("recency_days", Integer(), nullable=False),
    Column("frequency", Integer(), nullable=False),
    Column("monetary_fen", BigInteger(), nullable=False),
    Column("r", SmallInteger(), nullable=False),
    Column("f", SmallInteger(), nullable=False),
    Column("m", SmallInteger(), nullable=False),
    Column("segment", String(20), nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
)
Index("ix_rfm_scores_segment", rfm_scores.c.workspace_id, rfm_scores.c.segment)

lifecycle_states = Table(
    "lifecycle_states",
    metadata,
    Column("workspace_id", String(40), primary_key=True),
    Column("person_id", String(40), primary_key=True),
    Column("stage", String(20), nullable=False),
    Column("activity", String(20), nullable=False),
    Column("days_inactive", Integer(), nullable=False),
    Column("stage_since", UTCDateTime(), nullable=False),
    Column("activity_since", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_lifecycle_states_stage", lifecycle_states.c.workspace_id, lifecycle_states.c.stage)

lifecycle_transitions = Table(
    "lifecycle_transitions",
    metadata,
    Column("id", _SERIAL, primary_key=True, autoincrement=True),
    Column("workspace_id", String(40), nullable=False),
    Column("person_id", String(40), nullable=False),
    Column("dimension", String(10), nullable=False),  # stage | activity
    Column("from_value", String(20), nullable=True),
    Column("to_value", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
Index(
    "ix_lifecycle_transitions_person",
    lifecycle_transitions.c.workspace_id,
    lifecycle_transitions.c.person_id,
    lifecycle_transitions.c.at,
)
Index(
    "ix_lifecycle_transitions_at", lifecycle_transitions.c.workspace_id, lifecycle_transitions.c.at
)
