"""Event tables for analytics tests: hand-written rows and a seeded random dataset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from siyu.core.eventstore import EVENT_SCHEMA

WORKSPACE = "ws_test"
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Shanghai

NAMES = ("Landing", "Product Viewed", "Product Added", "Order Completed", "Referral Sent")
CHANNELS = ("douyin", "store", "wecom", None)


@dataclass
class Row:
    """One event, most columns defaulted."""

    person: str
    event: str | None
    at: datetime
    revenue_fen: int | None = None
    channel: str | None = None
    properties: dict[str, object] = field(default_factory=dict)
    type: str = "track"


def table_of(rows: Sequence[Row], workspace_id: str = WORKSPACE) -> pa.Table:
    """The rows as an :data:`EVENT_SCHEMA` table (message ids m0, m1, …)."""
    return pa.table(
        {
            "workspace_id": [workspace_id] * len(rows),
            "message_id": [f"m{i}" for i in range(len(rows))],
            "type": [r.type for r in rows],
            "event": [r.event for r in rows],
            "person_id": [r.person for r in rows],
            "anonymous_id": [None] * len(rows),
            "user_id": [None] * len(rows),
            "group_id": [None] * len(rows),
            "ids": [[] for _ in rows],
            "properties": [json.dumps(r.properties) for r in rows],
            "traits": [None] * len(rows),
            "context": [None] * len(rows),
            "channel": [r.channel for r in rows],
            "campaign": [None] * len(rows),
            "revenue_fen": [r.revenue_fen for r in rows],
            "timestamp": [r.at for r in rows],
            "received_at": [r.at for r in rows],
            "sent_at": [None] * len(rows),
        },
        schema=EVENT_SCHEMA,
    )


def random_rows(*, persons: int, events: int, seed: int, days: int = 60) -> list[Row]:
    """A seeded dataset: funnel events per person, distinct timestamps, some orders."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, persons, events)
    # Whole seconds, distinct: ties would make tie-breaking, not semantics, decide results.
    seconds = rng.choice(days * 86_400, size=events, replace=False)
    kinds = rng.choice(len(NAMES), size=events, p=[0.2, 0.35, 0.2, 0.15, 0.1])
    rows = []
    for p, s, k in zip(who.tolist(), seconds.tolist(), kinds.tolist(), strict=True):
        name = NAMES[k]
        revenue = int(rng.integers(12, 120)) * 100 if name == "Order Completed" else None
        channel = CHANNELS[p % len(CHANNELS)] if name == "Landing" else None
        props: dict[str, object] = {"city": ("上海", "杭州", "成都")[p % 3]}
        rows.append(Row(f"p{p:04d}", name, T0 + timedelta(seconds=s), revenue, channel, props))
    return rows
