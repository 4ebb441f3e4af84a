"""Reporting periods: whole local days in the workspace's zone, as a half-open UTC range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator

from siyu.core.errors import InvalidInputError

MAX_DAYS = 3660


class Period(BaseModel):
    """The local days ``first_day`` … ``last_day`` (both included) in ``timezone``."""

    first_day: date = Field(description="First day included (local date).")
    last_day: date = Field(description="Last day included (local date).")
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone the days are in.")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.last_day < self.first_day:
            raise InvalidInputError(
                f"the period ends ({self.last_day}) before it starts ({self.first_day})",
                field="to",
            )
        if self.days > MAX_DAYS:
            raise InvalidInputError(f"a period is at most {MAX_DAYS} days", field="to")
        return self

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC)."""
        return _midnight(self.first_day, self.timezone)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC, exclusive)."""
        return _midnight(self.last_day + timedelta(days=1), self.timezone)

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return self.shifted(-self.days)

    def shifted(self, days: int) -> Period:
        """The same-length period ``days`` later (earlier when negative)."""
        step = timedelta(days=days)
        return Period(
            first_day=self.first_day + step, last_day=self.last_day + step, timezone=self.timezone
        )

    def day_of(self, instant: datetime) -> date:
        """The local date of ``instant``."""
        return instant.astimezone(ZoneInfo(self.timezone)).date()


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def period_of(
    first_day: date | None, last_day: date | None, *, timezone: str, now: datetime, days: int = 7
) -> Period:
    """The period asked for; by default the ``days`` complete local days before ``now``."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    last = last_day or (today - timedelta(days=1) if first_day is None else today)
    first = first_day or last - timedelta(days=days - 1)
    if first_day is not None and last_day is None and first > last:
        last = first
    return Period(first_day=first, last_day=last, timezone=timezone)
