"""Times leave siyu in the workspace's zone (ISO 8601 with its offset, e.g. +08:00)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

T = TypeVar("T")


def in_zone(value: T, zone: str) -> T:
    """``value`` with every aware datetime inside it shown in ``zone`` (same instant)."""
    return _convert(value, ZoneInfo(zone))  # type: ignore[no-any-return]


def _convert(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone) if value.tzinfo else value
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return value.model_copy(update={k: _convert(getattr(value, k), zone) for k in fields})
    if isinstance(value, dict):
        return {k: _convert(v, zone) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, zone) for v in value]
    return value
