"""The performance fold: last content touch within the window takes an order, for the item,
its channel and its sharer; new contacts are persons whose first event was the item."""

from __future__ import annotations

from datetime import datetime, timedelta

from siyu.content.models import ContentLink
from siyu.content.performance import CLICKED, SHARED, VIEWED, Row, fold, report

T0 = datetime.fromisoformat("2026-11-20T00:00:00+00:00")
DAY = timedelta(days=1)
ORDER = "Order Completed"


def _link(code: str, content_id: str, channel: str, sharer: str | None) -> ContentLink:
    return ContentLink(
        code=code,
        content_id=content_id,
        channel=channel,
        sharer_id=sharer,
        parent_code=None,
        depth=0,
        created_at=T0,
        url=f"https://x/c/{code}",
    )


LINKS = {
    "A": _link("A", "c1", "wecom", "alice"),
    "B": _link("B", "c1", "sms", None),
    "C": _link("C", "c2", "share", "bob"),
}


def test_last_touch_in_the_window_takes_the_order() -> None:
    rows = [
        Row("p1", T0, CLICKED, "A", first_event=True),
        Row("p1", T0 + DAY, VIEWED, "C"),
        Row("p1", T0 + 2 * DAY, ORDER, revenue_fen=10_000),  # → c2 / share / bob
        Row("p1", T0 + 3 * DAY, CLICKED, "B"),
        Row("p1", T0 + 11 * DAY, ORDER, revenue_fen=5_000),  # 8 days after: nobody's
        Row("p2", T0 - 2 * DAY, CLICKED, "A"),  # before the period: only for attribution
        Row("p2", T0 + DAY, ORDER, revenue_fen=2_000),  # → c1 / wecom / alice
        Row("p2", T0 + DAY, SHARED, "A"),
        Row("p3", T0, CLICKED, "unknown"),
        Row("p3", T0, ORDER, revenue_fen=999),
    ]
    tally = fold(rows, LINKS, start=T0, window=7 * DAY)
    c1_wecom, c1_sms = tally.by_channel[("c1", "wecom")], tally.by_channel[("c1", "sms")]
    c2 = tally.by_channel[("c2", "share")]
    assert (c1_wecom.clicks, c1_wecom.shares, c1_wecom.orders, c1_wecom.gmv_fen) == (1, 1, 1, 2000)
    assert (c1_sms.clicks, c1_sms.orders) == (1, 0)
    assert (c2.views, c2.orders, c2.gmv_fen) == (1, 1, 10_000)
    assert c1_wecom.new_contacts == 1 and c2.new_contacts == 0
    assert tally.by_sharer[("bob", "c2")].gmv_fen == 10_000
    assert tally.by_sharer[("alice", "c1")].orders == 1
    assert tally.by_sharer[("alice", "c1")].clicks == 1  # p2's click came before the period

    done = report(
        tally,
        items={"c1": ("精华", "article"), "c2": ("海报", "poster"), "c3": ("没人看", "text")},
        links=LINKS.values(),
        reach={("c1", "sms"): 40},
        start=T0,
        end=T0 + 30 * DAY,
        window_days=7,
    )
    assert [i.content_id for i in done.items] == ["c2", "c1", "c3"]  # by GMV
    c1 = done.items[1]
    assert (c1.reach, c1.clicks, c1.orders, c1.gmv_fen, c1.links) == (40, 2, 1, 2000, 2)
    assert [c.channel for c in c1.channels] == ["wecom", "sms"]
    assert done.items[2].clicks == 0 and done.items[2].channels == []
    assert [(s.sharer_id, s.gmv_fen) for s in done.sharers] == [("bob", 10_000), ("alice", 2000)]


def test_a_longer_window_credits_the_late_order() -> None:
    rows = [Row("p1", T0, CLICKED, "B"), Row("p1", T0 + 9 * DAY, ORDER, revenue_fen=700)]
    assert fold(rows, LINKS, start=T0, window=7 * DAY).by_channel[("c1", "sms")].orders == 0
    assert fold(rows, LINKS, start=T0, window=10 * DAY).by_channel[("c1", "sms")].gmv_fen == 700
