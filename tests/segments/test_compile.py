"""Compiled SQL of representative definitions, snapshot-tested per dialect.

A compiler change shows up as a diff of ``tests/segments/snapshots/``; regenerate with
``SIYU_UPDATE_SNAPSHOTS=1 pytest tests/segments/test_compile.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from siyu.core.errors import InvalidInputError
from siyu.segments.compile import referenced_segments, to_sql
from siyu.segments.models import CONDITION
from tests.segments.strategies import NOW

SNAPSHOTS = Path(__file__).parent / "snapshots"

HIGH_VALUE_HANGZHOU: dict[str, Any] = {
    "type": "all",
    "of": [
        {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
        {"type": "computed", "name": "total_spend_fen", "op": "gte", "value": 100000},
        {"type": "tag", "tag": "tag_vip"},
        {"type": "identifier", "id_type": "wecom_external_userid"},
        {"type": "not", "condition": {"type": "segment", "segment_id": "seg_churned"}},
    ],
}
OPERATIONAL = {
    "high_value_hangzhou": HIGH_VALUE_HANGZHOU,
    "douyin_first_touch_dormant": {
        "type": "all",
        "of": [
            {"type": "channel", "field": "channel", "values": ["douyin", "xiaohongshu"]},
            {"type": "computed", "name": "days_since_last_order", "op": "gt", "value": 90},
            {"type": "computed", "name": "order_count", "op": "lte", "value": 1},
        ],
    },
}
BEHAVIOUR = {
    "two_big_orders_in_30_days": {
        "type": "event",
        "event": "order_paid",
        "count": {"op": "gte", "value": 2},
        "window": {"days": 30},
        "where": [{"path": "revenue_fen", "op": "gte", "value": 10000}],
    },
    "cart_without_order_in_7_days": {
        "type": "sequence",
        "first": {
            "event": "Add To Cart",
            "where": [{"path": "properties.sku", "op": "eq", "value": "A1"}],
        },
        "then": {"event": "Order Completed"},
        "within_days": 7,
        "window": {"days": 30},
    },
    "mixed": {
        "type": "any",
        "of": [
            HIGH_VALUE_HANGZHOU,
            {
                "type": "event",
                "event": "$page",
                "count": {"op": "eq", "value": 0},
                "window": {
                    "since": "2026-11-01T00:00:00+08:00",
                    "until": "2026-11-12T00:00:00+08:00",
                },
            },
        ],
    },
}
CASES = [
    *((name, definition, dialect) for name, definition in OPERATIONAL.items()
      for dialect in ("duckdb", "clickhouse", "sqlite", "postgresql")),
    *((name, definition, dialect) for name, definition in BEHAVIOUR.items()
      for dialect in ("duckdb", "clickhouse")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "dialect"), CASES)
def test_sql_matches_snapshot(name: str, raw: dict[str, Any], dialect: str) -> None:
    sql = to_sql(CONDITION.validate_python(raw), dialect, now=NOW, workspace_id="ws_demo").sql
    path = SNAPSHOTS / f"{name}.{dialect}.sql"
    if os.environ.get("SIYU_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(sql + "\n")
    assert sql + "\n" == path.read_text()


def test_event_conditions_need_an_event_engine() -> None:
    definition = CONDITION.validate_python(BEHAVIOUR["mixed"])
    with pytest.raises(InvalidInputError) as refused:
        to_sql(definition, "sqlite", now=NOW, workspace_id="ws")
    assert refused.value.field == "definition"


def test_bad_definitions_name_the_field() -> None:
    bad = [
        {"type": "trait", "name": "city", "op": "in", "value": "杭州"},
        {"type": "event", "event": "x", "where": [{"path": "amount", "op": "gt", "value": 1}]},
        {"type": "computed", "name": "days_since_last_order", "op": "eq", "value": 3},
        {"type": "event", "event": "x", "window": {"days": 3, "since": "2026-01-01T00:00:00Z"}},
        {"type": "all", "of": []},
        {"type": "bogus"},
    ]
    for raw in bad:
        with pytest.raises(ValueError):
            CONDITION.validate_python(raw)


def test_revenue_compares_with_numbers_only() -> None:
    definition = CONDITION.validate_python(
        {
            "type": "event",
            "event": "x",
            "where": [{"path": "revenue_fen", "op": "eq", "value": "100"}],
        }
    )
    with pytest.raises(InvalidInputError):
        to_sql(definition, "duckdb", now=NOW)


def test_referenced_segments() -> None:
    definition = CONDITION.validate_python(BEHAVIOUR["mixed"])
    assert referenced_segments(definition) == {"seg_churned"}
