"""Content performance, folded from touches and orders: a pure function over plain rows.

A *touch* is a ``Content Viewed``, ``Content Clicked`` or ``Content Shared`` event that
carries a tracked link's code; the link names the item, the channel and the sharer. An
order is credited to the person's last view or click (last touch) within the attribution
window before it — to that item, that channel and that link's sharer. A person is a *new
contact* of an item when their very first event is a touch of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from siyu.content.models import ContentLink

VIEWED, CLICKED, SHARED = "Content Viewed", "Content Clicked", "Content Shared"
TOUCH_EVENTS = (VIEWED, CLICKED, SHARED)
_ATTRIBUTING = (VIEWED, CLICKED)  # a share is the sharer's act, not a step towards an order


class Metrics(BaseModel):
    """What one item (or channel, or sharer) did in the period."""

    reach: int = Field(default=0, description="Messages carrying it that were sent.")
    views: int = 0
    clicks: int = 0
    shares: int = 0
    new_contacts: int = Field(default=0, description="Persons whose first event was it.")
    orders: int = Field(default=0, description="Orders whose last content touch was it.")
    gmv_fen: int = Field(default=0, description="Their revenue (fen).")

    def add(self, other: Metrics) -> None:
        """Add ``other`` into this one."""
        for name in Metrics.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ChannelPerformance(Metrics):
    """One channel of an item."""

    channel: str


class ItemPerformance(Metrics):
    """One item, with its channels side by side."""

    content_id: str
    title: str
    kind: str
    links: int = Field(default=0, description="Tracked links (one per sharer and channel).")
    max_depth: int = Field(default=0, description="Deepest re-share in its fission chain.")
    channels: list[ChannelPerformance] = Field(default_factory=list)


class SharerPerformance(Metrics):
    """What one person's shares of one item brought."""

    sharer_id: str
    content_id: str


class ContentReport(BaseModel):
    """Performance of every item in a period, and of the people who shared them."""

    start: datetime
    end: datetime
    window_days: int
    items: list[ItemPerformance]
    sharers: list[SharerPerformance]


@dataclass(frozen=True)
class Row:
    """A touch (``event`` in :data:`TOUCH_EVENTS`, ``code`` set) or an order of a person."""

    person_id: str
    at: datetime
    event: str
    code: str | None = None
    revenue_fen: int = 0
    first_event: bool = False  # the person's very first event (touches only)


@dataclass
class _Tally:
    by_channel: dict[tuple[str, str], Metrics]
    by_sharer: dict[tuple[str, str], Metrics]

    def credit(self, link: ContentLink) -> list[Metrics]:
        keys = [self.by_channel.setdefault((link.content_id, link.channel), Metrics())]
        if link.sharer_id is not None:
            keys.append(self.by_sharer.setdefault((link.sharer_id, link.content_id), Metrics()))
        return keys


def _count_touch(tally: _Tally, link: ContentLink, row: Row, seen_new: set[str]) -> None:
    for m in tally.credit(link):
        if row.event == VIEWED:
            m.views += 1
        elif row.event == CLICKED:
            m.clicks += 1
        else:
            m.shares += 1
    if row.first_event and row.person_id not in seen_new:
        seen_new.add(row.person_id)
        for m in tally.credit(link):
            m.new_contacts += 1


def fold(
    rows: Iterable[Row],
    links: Mapping[str, ContentLink],
    *,
    start: datetime,
    window: timedelta,
) -> _Tally:
    """Count touches from ``start`` on and credit orders; ``rows`` ordered by person, time.

    Touches before ``start`` (within the window) only serve to credit orders; touches whose
    code is unknown are skipped.
    """
    tally = _Tally({}, {})
    person: str | None = None
    last: tuple[ContentLink, datetime] | None = None
    seen_new: set[str] = set()
    for row in rows:
        if row.person_id != person:
            person, last = row.person_id, None
        if row.code is not None:
            link = links.get(row.code)
            if link is None:
                continue
            if row.at >= start:
                _count_touch(tally, link, row, seen_new)
            if row.event in _ATTRIBUTING:
                last = (link, row.at)
        elif last is not None and row.at - last[1] <= window and row.at >= start:
            for m in tally.credit(last[0]):
                m.orders += 1
                m.gmv_fen += row.revenue_fen
    return tally


def report(
    tally: _Tally,
    *,
    items: Mapping[str, tuple[str, str]],
    links: Iterable[ContentLink],
    reach: Mapping[tuple[str, str], int],
    start: datetime,
    end: datetime,
    window_days: int,
) -> ContentReport:
    """The report: every item (even idle ones), channels and sharers ranked by GMV, clicks.

    ``items`` maps id → (title, kind); ``reach`` (item, channel) → messages sent.
    """
    for key, sent in reach.items():
        tally.by_channel.setdefault(key, Metrics()).reach += sent
    per_item: dict[str, list[ChannelPerformance]] = defaultdict(list)
    for (content_id, channel), m in tally.by_channel.items():
        per_item[content_id].append(ChannelPerformance(channel=channel, **m.model_dump()))
    link_list = list(links)
    rows = []
    for content_id, (title, kind) in items.items():
        row = ItemPerformance(content_id=content_id, title=title, kind=kind)
        mine = [k for k in link_list if k.content_id == content_id]
        row.links, row.max_depth = len(mine), max((k.depth for k in mine), default=0)
        row.channels = sorted(per_item.get(content_id, []), key=_rank)
        for part in row.channels:
            row.add(part)
        rows.append(row)
    sharers = [
        SharerPerformance(sharer_id=s, content_id=c, **m.model_dump())
        for (s, c), m in tally.by_sharer.items()
    ]
    return ContentReport(
        start=start,
        end=end,
        window_days=window_days,
        items=sorted(rows, key=_rank),
        sharers=sorted(sharers, key=_rank),
    )


def _rank(m: Metrics) -> tuple[int, int, int, str]:
    name = getattr(m, "content_id", "") + getattr(m, "channel", "") + getattr(m, "sharer_id", "")
    return (-m.gmv_fen, -m.orders, -m.clicks, name)
