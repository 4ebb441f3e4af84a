"""Time helpers: aware UTC inside, the workspace's zone outside."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The current time as aware UTC. Only entry points call this; domain code takes ``now``."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Make ``value`` aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_zone(value: datetime, zone: str) -> datetime:
    """Show an aware datetime in a workspace's zone (e.g. ``Asia/Shanghai``)."""
    return ensure_utc(value).astimezone(ZoneInfo(zone))
