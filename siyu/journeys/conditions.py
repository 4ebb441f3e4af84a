"""Pure evaluation of branch conditions over a person's facts, and event filters over events."""

from __future__ import annotations

from typing import Any

from siyu.collect.models import CollectedEvent
from siyu.journeys.actions import Facts
from siyu.journeys.models import AllOf, AnyOf, BranchCondition, EventDone, NotOf
from siyu.segments.models import Comparison, EventSpec, InSegment, Op, PropertyFilter, Tag, Trait

_MISSING = object()


def _ordered(left: Any, right: Any) -> tuple[Any, Any] | None:
    # Numbers compare with numbers, strings with strings; anything else never matches.
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    return None


def compare(actual: Any, comparison: Comparison) -> bool:
    """Whether ``actual`` (``_MISSING`` when absent) satisfies ``comparison``."""
    op, value = comparison.op, comparison.value
    if op is Op.EXISTS:
        return actual is not _MISSING and actual is not None
    if actual is _MISSING or actual is None:
        return op is Op.NE or op is Op.NOT_IN
    match op:
        case Op.EQ:
            return bool(actual == value)
        case Op.NE:
            return bool(actual != value)
        case Op.IN:
            return isinstance(value, list) and actual in value
        case Op.NOT_IN:
            return isinstance(value, list) and actual not in value
        case Op.CONTAINS:
            return isinstance(actual, str) and isinstance(value, str) and value in actual
    pair = _ordered(actual, value)
    if pair is None:
        return False
    left, right = pair
    results = {Op.GT: left > right, Op.GTE: left >= right, Op.LT: left < right}
    return bool(results.get(op, left <= right))


def holds(condition: BranchCondition, facts: Facts) -> bool:
    """Whether a branch condition holds for a person."""
    match condition:
        case Trait():
            return compare(facts.traits.get(condition.name, _MISSING), condition)
        case Tag():
            return condition.tag in facts.tags
        case InSegment():
            return condition.segment_id in facts.segments
        case EventDone():
            return facts.event_counts.get(condition.event, 0) >= condition.min_count
        case AllOf():
            return all(holds(c, facts) for c in condition.conditions)
        case AnyOf():
            return any(holds(c, facts) for c in condition.conditions)
        case NotOf():
            return not holds(condition.condition, facts)
    raise AssertionError(condition)  # pragma: no cover - the union is exhaustive


def _event_value(event: CollectedEvent, path: str) -> Any:
    if path in ("revenue_fen", "channel", "campaign"):
        value = getattr(event, path)
        return _MISSING if value is None else value
    head, _, rest = path.partition(".")
    current: Any = {"properties": event.properties, "context": event.context}.get(
        head, event.traits
    )
    for part in rest.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def event_name(event: CollectedEvent) -> str:
    """The name a spec matches: the track name, else ``$<type>`` (``$identify``…)."""
    return event.event if event.type == "track" and event.event else f"${event.type}"


def matches(spec: EventSpec, event: CollectedEvent) -> bool:
    """Whether an event is one ``spec`` names and passes every filter."""
    if event_name(event) != spec.event:
        return False
    return all(_passes(f, event) for f in spec.where)


def _passes(condition: PropertyFilter, event: CollectedEvent) -> bool:
    return compare(_event_value(event, condition.path), condition)
