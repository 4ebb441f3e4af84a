"""Hypothesis strategies: small random relations and random definitions over them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from siyu.segments.models import CONDITION, Condition
from tests.segments.reference import Data

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
PERSONS = [f"p{i}" for i in range(5)]
TRAIT_NAMES = ["city", "age", "vip"]
TRAIT_VALUES: list[Any] = ["杭州", "上海", "o'k", 18, 30, 45.5, True, False]
EVENTS = ["a", "b"]


def _at(hours: int) -> datetime:
    return NOW - timedelta(hours=hours)


hours = st.sampled_from([-3, 0, 1, 23, 24, 48, 72, 24 * 7, 24 * 7 + 1, 24 * 15, 24 * 40])
json_value = st.sampled_from(["A1", "B", 1, 2.5, 0, True, None])


@st.composite
def properties(draw: st.DrawFn) -> str:
    props: dict[str, Any] = {}
    if draw(st.booleans()):
        props["x"] = draw(json_value)
    if draw(st.booleans()):
        props["y"] = {"z": draw(json_value)}
    return json.dumps(props, ensure_ascii=False)


@st.composite
def event_rows(draw: st.DrawFn) -> dict[str, Any]:
    page = draw(st.integers(0, 5)) == 0
    return {
        "person_id": draw(st.sampled_from(PERSONS)),
        "type": "page" if page else "track",
        "event": "home" if page else draw(st.sampled_from(EVENTS)),
        "timestamp": _at(draw(hours)),
        "revenue_fen": draw(st.sampled_from([None, 0, 5000, 10000, 30000])),
        "channel": draw(st.sampled_from([None, "wechat", "douyin"])),
        "properties": draw(properties()),
    }


def _trait(value: Any) -> tuple[str | None, float | None]:
    if isinstance(value, bool):
        return ("true" if value else "false", None)
    if isinstance(value, str):
        return (value, None)
    return (None, float(value))


@st.composite
def profile(draw: st.DrawFn) -> dict[str, Any]:
    orders = draw(st.integers(0, 3))
    return {
        "first_seen": _at(draw(hours)),
        "last_seen": _at(draw(hours)),
        "event_count": draw(st.integers(0, 5)),
        "order_count": orders,
        "total_spend_fen": draw(st.sampled_from([0, 9999, 10000, 40000])) if orders else 0,
        "last_order_at": _at(draw(hours)) if orders else None,
        "first_channel": draw(st.sampled_from([None, "wechat", "douyin"])),
        "first_campaign": draw(st.sampled_from([None, "双11"])),
    }


@st.composite
def datasets(draw: st.DrawFn) -> Data:
    persons = PERSONS
    traits = {}
    for p in persons:
        for name in TRAIT_NAMES:
            if draw(st.booleans()):
                traits[(p, name)] = _trait(draw(st.sampled_from(TRAIT_VALUES)))
    return Data(
        persons=persons,
        profiles={p: draw(profile()) for p in persons if draw(st.integers(0, 4))},
        traits=traits,
        tags={(p, t) for p in persons for t in ("t1", "t2") if draw(st.booleans())},
        identifiers={(p, "wecom_external_userid") for p in persons if draw(st.booleans())},
        members={("s1", p) for p in persons if draw(st.booleans())},
        events=draw(st.lists(event_rows(), max_size=14)),
    )


def _comparison(draw: st.DrawFn, values: list[Any]) -> dict[str, Any]:
    op = draw(
        st.sampled_from(
            ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists"]
        )
    )
    if op == "exists":
        return {"op": op}
    if op == "contains":
        return {"op": op, "value": draw(st.sampled_from(["杭", "o'", "A", "x"]))}
    if op in ("in", "not_in"):
        first = draw(st.sampled_from(values))
        same = [v for v in values if type(v) is type(first)]
        return {"op": op, "value": draw(st.lists(st.sampled_from(same), min_size=1, max_size=3))}
    value = draw(
        st.sampled_from([v for v in values if op in ("eq", "ne") or not isinstance(v, bool)])
    )
    return {"op": op, "value": value}


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return {}
    if kind == 1:
        return {"days": draw(st.sampled_from([1, 2, 7, 30]))}
    since = _at(draw(st.sampled_from([24 * 40, 72])))
    return {"since": since.isoformat(), "until": _at(draw(st.sampled_from([0, 24]))).isoformat()}


@st.composite
def event_spec(draw: st.DrawFn) -> dict[str, Any]:
    where = []
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(["revenue_fen", "channel", "properties.x", "properties.y.z"]))
        if path == "revenue_fen":
            values: list[Any] = [0, 5000, 10000]
        elif path == "channel":
            values = ["wechat", "douyin"]
        else:
            values = ["A1", "B", 1, 2.5, 0, True]
        cmp = _comparison(draw, values)
        if path in ("revenue_fen", "channel") and cmp["op"] == "contains" and path == "revenue_fen":
            cmp = {"op": "exists"}
        where.append({"path": path, **cmp})
    name = draw(st.sampled_from([*EVENTS, "$page"]))
    return {"event": name, "where": where}


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["trait", "computed", "tag", "segment", "identifier", "channel", "event", "sequence"]
        )
    )
    if kind == "trait":
        return {
            "type": kind,
            "name": draw(st.sampled_from(TRAIT_NAMES)),
            **_comparison(draw, TRAIT_VALUES),
        }
    if kind == "computed":
        name = draw(
            st.sampled_from(
                [
                    "event_count",
                    "order_count",
                    "total_spend_fen",
                    "avg_spend_fen",
                    "days_since_first_seen",
                    "days_since_last_order",
                ]
            )
        )
        ops = ["gt", "gte", "lt", "lte"] + ([] if name.startswith("days") else ["eq"])
        value = draw(st.sampled_from([0, 1, 2, 3, 7, 9999.5, 10000]))
        return {"type": kind, "name": name, "op": draw(st.sampled_from(ops)), "value": value}
    if kind == "tag":
        return {"type": kind, "tag": draw(st.sampled_from(["t1", "t2"]))}
    if kind == "segment":
        return {"type": kind, "segment_id": "s1"}
    if kind == "identifier":
        return {"type": kind, "id_type": "wecom_external_userid"}
    if kind == "channel":
        return {
            "type": kind,
            "field": draw(st.sampled_from(["channel", "campaign"])),
            "values": draw(
                st.lists(st.sampled_from(["wechat", "douyin", "双11"]), min_size=1, max_size=2)
            ),
        }
    if kind == "event":
        count = {
            "op": draw(st.sampled_from(["eq", "gt", "gte", "lt", "lte"])),
            "value": draw(st.sampled_from([0, 1, 2, 10000])),
        }
        metric = draw(st.sampled_from(["count", "revenue_fen"]))
        return {
            "type": kind,
            **draw(event_spec()),
            "count": count,
            "metric": metric,
            "window": draw(windows()),
        }
    return {
        "type": kind,
        "first": draw(event_spec()),
        "then": draw(event_spec()),
        "within_days": draw(st.sampled_from([1, 2, 7])),
        "followed": draw(st.booleans()),
        "window": draw(windows()),
    }


raw_definitions = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda of: {"type": "all", "of": of}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda of: {"type": "any", "of": of}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"type": "not", "condition": c}, inner),
    ),
    max_leaves=5,
)
definitions: st.SearchStrategy[Condition] = raw_definitions.map(CONDITION.validate_python)
