"""A tiny pure-Python evaluator of segment definitions: the meaning the compiled SQL must have."""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from siyu.segments.models import (
    All,
    Channel,
    ComputedName,
    ComputedTrait,
    Condition,
    CountOp,
    Event,
    EventSpec,
    HasIdentifier,
    InSegment,
    Not,
    Op,
    PropertyFilter,
    Sequence,
    Tag,
    TimeWindow,
    Trait,
)
from siyu.segments.models import Any as AnyOf

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_DAYS = {
    ComputedName.DAYS_SINCE_FIRST_SEEN: "first_seen",
    ComputedName.DAYS_SINCE_LAST_SEEN: "last_seen",
    ComputedName.DAYS_SINCE_LAST_ORDER: "last_order_at",
}


@dataclass
class Data:
    """Combined relations, as the compiled SQL sees them."""

    persons: list[str]
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    traits: dict[tuple[str, str], tuple[str | None, float | None]] = field(default_factory=dict)
    tags: set[tuple[str, str]] = field(default_factory=set)
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    members: set[tuple[str, str]] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        value = value[0]
    if isinstance(value, bool):
        return "bool"
    return "str" if isinstance(value, str) else "num"


def _as_text(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def compare(column: Callable[[str], Any], op: Op, value: Any) -> bool:
    """SQL comparison semantics: an absent (None) column never matches."""
    if op is Op.EXISTS:
        return column("any") is not None
    got = column(_kind(value))
    if got is None:
        return False
    if op is Op.CONTAINS:
        return str(value) in got
    if op in (Op.IN, Op.NOT_IN):
        listed = [_as_text(v) for v in value]
        return (got in listed) == (op is Op.IN)
    return OPS[op.value](got, _as_text(value))


def _json_at(text: str | None, keys: list[str], kind: str) -> Any:
    if text is None:
        return None
    value: Any = json.loads(text)
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if kind == "any":
        return value
    if isinstance(value, bool):
        return ("true" if value else "false") if kind == "bool" else None
    if isinstance(value, str):
        return value if kind == "str" else None
    if isinstance(value, int | float):
        return float(value) if kind == "num" else None
    return None


def _filter(event: dict[str, Any], item: PropertyFilter) -> bool:
    head, _, rest = item.path.partition(".")
    if not rest:
        return compare(lambda _k: event[head], item.op, item.value)
    return compare(lambda k: _json_at(event[head], rest.split("."), k), item.op, item.value)


def _in_window(ts: datetime, window: TimeWindow, now: datetime) -> bool:
    if window.days is not None:
        return now - timedelta(days=window.days) <= ts <= now
    if window.since is not None and ts < window.since:
        return False
    return ts < window.until if window.until is not None else ts <= now


def _events(data: Data, spec: EventSpec, window: TimeWindow, now: datetime) -> list[dict[str, Any]]:
    def named(e: dict[str, Any]) -> bool:
        if spec.event.startswith("$"):
            return bool(e["type"] == spec.event[1:])
        return bool(e["type"] == "track" and e["event"] == spec.event)

    return [
        e
        for e in data.events
        if named(e)
        and _in_window(e["timestamp"], window, now)
        and all(_filter(e, f) for f in spec.where)
    ]


def _event(node: Event, data: Data, now: datetime) -> set[str]:
    measure: dict[str, float] = defaultdict(float)
    for e in _events(data, node, node.window, now):
        measure[e["person_id"]] += 1 if node.metric == "count" else (e["revenue_fen"] or 0)
    test = OPS[node.count.op.value]
    return {p for p in data.persons if test(measure.get(p, 0), node.count.value)}


def _sequence(node: Sequence, data: Data, now: datetime) -> set[str]:
    firsts = _events(data, node.first, node.window, now)
    thens = _events(data, node.then, TimeWindow(), now)
    found = set()
    for a in firsts:
        later = [
            b["timestamp"]
            for b in thens
            if b["person_id"] == a["person_id"] and b["timestamp"] >= a["timestamp"]
        ]
        hit = bool(later) and min(later) <= a["timestamp"] + timedelta(days=node.within_days)
        if hit == node.followed:
            found.add(a["person_id"])
    return found


def _computed(node: ComputedTrait, data: Data, now: datetime) -> set[str]:
    test = OPS[node.op.value]
    result = set()
    for p in data.persons:
        prof = data.profiles.get(p)
        if node.name.value in ("event_count", "order_count", "total_spend_fen"):
            if test(prof[node.name.value] if prof else 0, node.value):
                result.add(p)
        elif prof is None:
            continue
        elif node.name is ComputedName.AVG_SPEND_FEN:
            if prof["order_count"] > 0 and test(
                prof["total_spend_fen"] / prof["order_count"], node.value
            ):
                result.add(p)
        else:
            at = prof[_DAYS[node.name]]
            flipped = {
                CountOp.GT: operator.lt,
                CountOp.GTE: operator.le,
                CountOp.LT: operator.gt,
                CountOp.LTE: operator.ge,
            }
            if at is not None and flipped[node.op](at, now - timedelta(days=node.value)):
                result.add(p)
    return result


def evaluate(node: Condition, data: Data, now: datetime) -> set[str]:
    """The persons ``node`` selects."""
    everyone = set(data.persons)
    match node:
        case All(of=children):
            return set.intersection(*(evaluate(c, data, now) for c in children))
        case AnyOf(of=children):
            return set.union(*(evaluate(c, data, now) for c in children))
        case Not(condition=child):
            return everyone - evaluate(child, data, now)
        case Trait(name=name, op=op, value=value):

            def column(p: str) -> Callable[[str], Any]:
                text, num = data.traits[(p, name)]
                return lambda kind: num if kind == "num" else (text if kind != "any" else True)

            return {
                p for p in everyone if (p, name) in data.traits and compare(column(p), op, value)
            }
        case ComputedTrait():
            return _computed(node, data, now)
        case Tag(tag=tag):
            return {p for p, t in data.tags if t == tag} & everyone
        case InSegment(segment_id=sid):
            return {p for s, p in data.members if s == sid} & everyone
        case HasIdentifier(id_type=kind):
            return {p for p, t in data.identifiers if t == kind.value} & everyone
        case Channel(field=column, values=values):
            return {
                p for p, prof in data.profiles.items() if prof[f"first_{column}"] in values
            } & everyone
        case Event():
            return _event(node, data, now)
        case Sequence():
            return _sequence(node, data, now) & everyone
    raise AssertionError(node)
