"""Build collected events for profile tests without going through collect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from siyu.collect.models import CollectedEvent, MessageType

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
_ids = count()


def at(minutes: float) -> datetime:
    """``T0`` plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def event(
    kind: MessageType | str = MessageType.TRACK,
    *,
    when: datetime = T0,
    name: str | None = None,
    traits: dict[str, Any] | None = None,
    channel: str | None = None,
    campaign: str | None = None,
    revenue_fen: int | None = None,
) -> CollectedEvent:
    """One collected event; ``name`` is the track event or page/screen name."""
    return CollectedEvent(
        message_id=f"m{next(_ids)}",
        type=MessageType(kind),
        event=name,
        identifiers=[],
        traits=traits or {},
        timestamp=when,
        received_at=when,
        channel=channel,
        campaign=campaign,
        revenue_fen=revenue_fen,
    )


def identify(when: datetime, **traits: Any) -> CollectedEvent:
    """An identify call carrying ``traits``."""
    return event(MessageType.IDENTIFY, when=when, traits=traits)


def order(when: datetime, revenue_fen: int | None) -> CollectedEvent:
    """An ``Order Completed`` track event."""
    return event(when=when, name="Order Completed", revenue_fen=revenue_fen)
