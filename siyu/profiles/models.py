"""Types of the profiles domain that cross boundaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Profile(BaseModel):
    """What siyu knows about one person, combined over every person merged into it."""

    person_id: str = Field(description="The surviving person this profile describes.")
    traits: dict[str, Any] = Field(
        default_factory=dict,
        description="Latest value of each trait from identify calls and imports "
        "(phone and email are never kept here; they live encrypted as identifiers).",
    )
    first_seen: datetime = Field(description="Time of the person's earliest event (UTC).")
    last_seen: datetime = Field(description="Time of the person's latest event (UTC).")
    first_channel: str | None = Field(
        default=None, description="Channel (utm_source) of the earliest event that had one."
    )
    first_campaign: str | None = Field(
        default=None, description="Campaign (utm_campaign) of the earliest event that had one."
    )
    event_count: int = Field(default=0, description="Events of every kind.")
    event_counts: dict[str, int] = Field(
        default_factory=dict,
        description="Events per name: track names as sent; $page, $screen, $identify, "
        "$alias and $group for the other calls.",
    )
    order_count: int = Field(default=0, description='Number of "Order Completed" events.')
    total_spend_fen: int = Field(default=0, description="Sum of order revenue, in fen (分).")
    avg_spend_fen: int | None = Field(
        default=None,
        description="Average order value in fen, rounded half up; null without orders.",
    )
    last_order_at: datetime | None = Field(
        default=None, description="Time of the latest order (UTC); null without orders."
    )
