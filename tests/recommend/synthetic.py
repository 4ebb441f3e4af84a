"""A small deterministic shop with a known answer: two disjoint taste groups.

Group A (even persons and multiples of 5, 72 of 120) only ever touches products a0–a5,
group B (the other odd persons) b0–b5, each with the same skewed taste. Group A being
larger, popularity shows mostly its products to everyone, so a personal model must beat it
on group B. Orders hold 1–2 products of the person's group: the first product, and often
the next one when the first is product 0 or 4 (``a0`` with ``a1``, ``b4`` with ``b5``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import insert

from siyu.core.config import Settings
from siyu.core.eventstore import EVENT_SCHEMA
from siyu.core.runtime import Runtime, open_runtime
from siyu.identity.tables import identity_persons
from siyu.workspaces import service as workspaces
from tests.conftest import fresh_pg_schema

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SPLIT = NOW - timedelta(days=20)
A = [f"a{i}" for i in range(6)]
B = [f"b{i}" for i in range(6)]
NAMES = {p: f"商品{p}" for p in A + B}


def _event(
    ws: str, n: int, person: str, event: str, at: datetime, props: dict[str, Any]
) -> dict[str, Any]:
    return {
        "workspace_id": ws,
        "message_id": f"m{n}",
        "type": "track",
        "event": event,
        "person_id": person,
        "anonymous_id": None,
        "user_id": None,
        "group_id": None,
        "ids": [f"anonymous_id:{person}"],
        "properties": json.dumps(props, ensure_ascii=False),
        "traits": "{}",
        "context": "{}",
        "channel": None,
        "campaign": None,
        "revenue_fen": props.get("revenue_fen"),
        "timestamp": at,
        "received_at": at,
        "sent_at": at,
    }


def _item(product: str) -> dict[str, Any]:
    category = "乌龙" if product.startswith("a") else "奶茶"
    return {"product_id": product, "name": NAMES[product], "price": "12.00", "category": category}


def events(ws: str, persons: int = 120, seed: int = 3) -> list[dict[str, Any]]:
    """Views, adds and orders of ``persons`` persons over 100 days before NOW."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    taste = np.array([0.35, 0.25, 0.15, 0.12, 0.08, 0.05])
    for p in range(persons):
        group = A if p % 2 == 0 or p % 5 == 0 else B
        person = f"p{p:03d}"
        for _ in range(int(rng.integers(4, 9))):
            at = NOW - timedelta(days=float(rng.uniform(0.5, 100)))
            first = int(rng.choice(6, p=taste))
            rows.append(_event(ws, len(rows), person, "Product Viewed", at, _item(group[first])))
            if rng.random() < 0.4:
                rows.append(_event(ws, len(rows), person, "Product Added", at, _item(group[first])))
            basket = [group[first]]
            if first in (0, 4) and rng.random() < 0.7:
                basket.append(group[first + 1])
            if rng.random() < 0.7:
                props = {"order_id": f"o{len(rows)}", "products": [_item(x) for x in basket]}
                rows.append(_event(ws, len(rows), person, "Order Completed", at, props))
    return rows


def load(runtime: Runtime, ws: str, persons: int = 120) -> list[str]:
    """Append the shop's events for workspace ``ws`` and register its persons; their ids."""
    rows = events(ws, persons)
    runtime.events.append(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    ids = sorted({r["person_id"] for r in rows})
    with runtime.sessions() as session, session.begin():
        session.execute(
            insert(identity_persons),
            [
                {"id": p, "workspace_id": ws, "rank": n, "created_at": NOW - timedelta(days=200)}
                for n, p in enumerate(ids)
            ],
        )
    return ids


def open_loaded(tmp_path: Path, backend: str, persons: int = 120) -> tuple[Runtime, str]:
    """A runtime in ``tmp_path`` on ``backend`` with one workspace holding the shop."""
    url = fresh_pg_schema(f"siyu_rec_{os.getpid()}") if backend == "postgresql" else ""
    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=url))
    with runtime.sessions() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="推荐测试", now=NOW).workspace_id
    load(runtime, ws, persons)
    return runtime, ws
