"""Pure trait arithmetic: fold events into per-person profile states and combine states.

A :class:`ProfileState` is a commutative monoid element: :func:`combine` is associative and
commutative, so the order of events inside a batch, the split into batches, and the order in
which merged persons are combined never change the result. Every "latest wins" or "earliest
wins" choice breaks timestamp ties on the value itself, which is what makes that true.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from siyu.collect.models import CollectedEvent, MessageType

ORDER_EVENT = "Order Completed"
# Phone and email arrive as encrypted identifiers; a clear copy must never land in traits.
PII_TRAIT_KEYS: frozenset[str] = frozenset({"phone", "mobile", "email"})
NAME_MAX = 255
_TYPE_KEYS: dict[MessageType, str] = {t: f"${t.value}" for t in MessageType}


class Trait(NamedTuple):
    """One trait value and when it was observed."""

    observed_at: datetime
    value: Any


class Touch(NamedTuple):
    """A first-touch attribute (channel or campaign) and when it was seen."""

    at: datetime
    value: str


@dataclass(slots=True)
class ProfileState:
    """Everything a profile knows about one person (or a group of merged persons)."""

    first_seen: datetime
    last_seen: datetime
    first_channel: Touch | None = None
    first_campaign: Touch | None = None
    event_counts: dict[str, int] = field(default_factory=dict)
    order_count: int = 0
    total_spend_fen: int = 0
    last_order_at: datetime | None = None
    traits: dict[str, Trait] = field(default_factory=dict)

    @property
    def event_count(self) -> int:
        """All events counted, of every name."""
        return sum(self.event_counts.values())


def value_key(value: Any) -> str:
    """The JSON text of a trait value: the tie-break when two observations share a time.

    It matches what the JSON column stores, so SQL can break the same ties the same way.
    """
    return json.dumps(value)


def trait_wins(new: Trait, old: Trait) -> bool:
    """Whether ``new`` replaces ``old``: later time wins, then the larger JSON text."""
    if new.observed_at != old.observed_at:
        return new.observed_at > old.observed_at
    return value_key(new.value) > value_key(old.value)


def earliest_touch(a: Touch | None, b: Touch | None) -> Touch | None:
    """The earlier of two touches (ties: the smaller value); ``None`` means none seen."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def clean_name(name: str) -> str:
    """A name as stored (trait, event, channel, campaign): ≤ 255 characters, no NUL.

    PostgreSQL refuses NUL in text and longer values than the column; one such name must not
    fail a whole ingest batch.
    """
    if "\x00" in name:
        name = name.replace("\x00", "")
    return name[:NAME_MAX]


def event_key(event: CollectedEvent) -> str:
    """The name an event is counted under: the track name, else ``$page``, ``$identify``…"""
    if event.type is MessageType.TRACK and event.event:
        return clean_name(event.event)
    return _TYPE_KEYS[event.type]


def _absorb_traits(traits: dict[str, Trait], event: CollectedEvent) -> None:
    at = event.timestamp
    for raw_name, value in event.traits.items():
        if raw_name.lower() in PII_TRAIT_KEYS:
            continue
        name = clean_name(raw_name)
        new = Trait(at, value)
        old = traits.get(name)
        if old is None or trait_wins(new, old):
            traits[name] = new


def _absorb(state: ProfileState, event: CollectedEvent) -> None:
    at = event.timestamp
    if at < state.first_seen:
        state.first_seen = at
    if at > state.last_seen:
        state.last_seen = at
    if event.channel:
        touch = Touch(at, clean_name(event.channel))
        state.first_channel = earliest_touch(state.first_channel, touch)
    if event.campaign:
        touch = Touch(at, clean_name(event.campaign))
        state.first_campaign = earliest_touch(state.first_campaign, touch)
    key = event_key(event)
    state.event_counts[key] = state.event_counts.get(key, 0) + 1
    if key == ORDER_EVENT and event.type is MessageType.TRACK:
        state.order_count += 1
        state.total_spend_fen += event.revenue_fen or 0
        state.last_order_at = _latest(state.last_order_at, at)
    if event.type is MessageType.IDENTIFY and event.traits:
        _absorb_traits(state.traits, event)


def aggregate(
    events: Sequence[CollectedEvent], person_ids: Sequence[str]
) -> dict[str, ProfileState]:
    """Fold a batch into one state per person; ``events[i]`` belongs to ``person_ids[i]``."""
    if len(events) != len(person_ids):
        raise ValueError("events and person_ids must have the same length")
    states: dict[str, ProfileState] = {}
    for event, person_id in zip(events, person_ids, strict=True):
        state = states.get(person_id)
        if state is None:
            state = states[person_id] = ProfileState(event.timestamp, event.timestamp)
        _absorb(state, event)
    return states


def _merge_traits(a: Mapping[str, Trait], b: Mapping[str, Trait]) -> dict[str, Trait]:
    merged = dict(a)
    for name, new in b.items():
        old = merged.get(name)
        if old is None or trait_wins(new, old):
            merged[name] = new
    return merged


def combine(a: ProfileState, b: ProfileState) -> ProfileState:
    """Two states as one: traits latest wins, counts and spend add, first/last extremes."""
    counts = dict(a.event_counts)
    for name, count in b.event_counts.items():
        counts[name] = counts.get(name, 0) + count
    return ProfileState(
        first_seen=min(a.first_seen, b.first_seen),
        last_seen=max(a.last_seen, b.last_seen),
        first_channel=earliest_touch(a.first_channel, b.first_channel),
        first_campaign=earliest_touch(a.first_campaign, b.first_campaign),
        event_counts=counts,
        order_count=a.order_count + b.order_count,
        total_spend_fen=a.total_spend_fen + b.total_spend_fen,
        last_order_at=_latest(a.last_order_at, b.last_order_at),
        traits=_merge_traits(a.traits, b.traits),
    )


def combine_all(states: Iterable[ProfileState]) -> ProfileState | None:
    """All ``states`` as one, or ``None`` if there are none."""
    result: ProfileState | None = None
    for state in states:
        result = state if result is None else combine(result, state)
    return result


def average_spend_fen(total_spend_fen: int, order_count: int) -> int | None:
    """Average order value in fen, rounded half up; ``None`` without orders."""
    if order_count <= 0:
        return None
    average = Decimal(total_spend_fen) / Decimal(order_count)
    return int(average.quantize(Decimal(1), rounding=ROUND_HALF_UP))
