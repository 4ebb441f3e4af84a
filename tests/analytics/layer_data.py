"""A small hand-made event history for the layer and value tests (known answers)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from siyu.core.config import Settings
from siyu.core.eventstore import EVENT_SCHEMA
from siyu.core.runtime import Runtime, open_runtime
from siyu.workspaces import service as workspaces
from tests.conftest import fresh_pg_schema

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _event(
    ws: str, n: int, person: str, event: str | None, at: datetime, **kw: Any
) -> dict[str, Any]:
    return {
        "workspace_id": ws,
        "message_id": f"m{n}",
        "type": kw.get("type", "track"),
        "event": event,
        "person_id": person,
        "anonymous_id": None,
        "user_id": None,
        "group_id": None,
        "ids": kw.get("ids", [f"anonymous_id:{person}"]),
        "properties": json.dumps(kw.get("properties", {})),
        "traits": "{}",
        "context": "{}",
        "channel": None,
        "campaign": None,
        "revenue_fen": kw.get("revenue_fen"),
        "timestamp": at,
        "received_at": at,
        "sent_at": at,
    }


def history(ws: str) -> list[dict[str, Any]]:
    """Five persons: a loyal member who referred a buyer, the buyer, a one-time buyer long
    gone, a browser and a stranger; plus a won-back buyer."""
    day = timedelta(days=1)
    rows: list[tuple[str, str | None, datetime, dict[str, Any]]] = []
    member = ["anonymous_id:ann", "member_id:M1"]
    for k, back in enumerate((200, 100, 40, 10, 10, 2)):
        # Two orders on one day (back=10) count as one purchase day for BG/NBD.
        rows.append(
            (
                "ann",
                "Order Completed",
                NOW - back * day + k * timedelta(minutes=5),
                {"revenue_fen": 10_000 + 1_000 * k, "ids": member},
            )
        )
    rows.append(
        ("bob", "Referral Accepted", NOW - 30 * day, {"properties": {"referrer_member_id": "M1"}})
    )
    rows.append(("bob", "Order Completed", NOW - 31 * day, {"revenue_fen": 99_000}))  # before
    rows.append(("bob", "Order Completed", NOW - 20 * day, {"revenue_fen": 5_000}))
    rows.append(("bob", "Order Completed", NOW - 5 * day, {"revenue_fen": 7_000}))
    rows.append(("cat", "Order Completed", NOW - 300 * day, {"revenue_fen": 3_000}))
    rows.append(("dan", "Product Viewed", NOW - 50 * day, {}))
    for k in range(2):
        rows.append(("eve", "Landing", NOW - (3 + k) * day, {"type": "page"}))
    rows.append(("fay", "Order Completed", NOW - 400 * day, {"revenue_fen": 2_000}))
    rows.append(("fay", "Order Completed", NOW - 3 * day, {"revenue_fen": 4_000}))
    return [_event(ws, n, p, e, at, **kw) for n, (p, e, at, kw) in enumerate(rows)]


def load(runtime: Runtime, ws: str) -> None:
    """Append the history for workspace ``ws``."""
    runtime.events.append(pa.Table.from_pylist(history(ws), schema=EVENT_SCHEMA))


def open_loaded(tmp_path: Path, backend: str) -> tuple[Runtime, str]:
    """A migrated runtime on ``backend`` (sqlite | postgresql) with the history loaded."""
    url = ""
    if backend == "postgresql":
        url = fresh_pg_schema(f"siyu_layers_{os.getpid()}")
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url))
    with rt.sessions() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="层", now=NOW).workspace_id
    load(rt, ws)
    return rt, ws
