"""A page's from/to range (local days in the workspace's zone), from what the operator typed:
pure, shared by every page with the range bar (siyu.console.widgets.range_bar)."""

from __future__ import annotations

from datetime import date, datetime

from siyu.analytics.periods import Period, period_of
from siyu.console.state import WorkspaceRef
from siyu.core.errors import InvalidInputError, SiyuError

DEFAULT_DAYS = 30


def range_days(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    """The range inputs (``YYYY-MM-DD``, blank = not set) → dates; a bad one is refused
    naming ``from`` or ``to``."""
    days: list[date | None] = []
    for field, text in (("from", first), ("to", last)):
        text = (text or "").strip()
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError:
            raise InvalidInputError(f"{text!r} is not a date (YYYY-MM-DD)", field=field) from None
    return days[0], days[1]


def chosen_range(
    workspace: WorkspaceRef, now: datetime, first: date | None, last: date | None
) -> Period | None:
    """The local days the operator picked in the workspace's zone (None: the page's default
    window); a start alone reaches to today, an end alone back 30 days. A backwards range or
    one too long is refused naming ``to``."""
    if first is None and last is None:
        return None
    return period_of(first, last, timezone=workspace.timezone, now=now, days=DEFAULT_DAYS)


def asked_range(
    workspace: WorkspaceRef, now: datetime, asked: tuple[str, str]
) -> tuple[Period | None, SiyuError | None]:
    """The range of a page's ``?from=&to=`` and, when they are refused, why (the page then
    keeps its default window and shows the reason)."""
    try:
        return chosen_range(workspace, now, *range_days(*asked)), None
    except SiyuError as error:
        return None, error
