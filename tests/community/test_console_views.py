"""The customer-group page's data shaping: health rows busiest first, chart series, the
dormant table's reasons in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.community.models import DormantGroup, GroupHealth
from siyu.console.views import groups as views


def _health(key: str, messages: int, gmv: int) -> GroupHealth:
    return GroupHealth(
        key=key,
        name=f"群{key}",
        owner_userid="li",
        members=10,
        joins=2,
        leaves=1,
        active_speakers=messages // 2,
        messages=messages,
        orders=1,
        gmv_fen=gmv,
    )


def test_rows_and_chart() -> None:
    groups = [_health("a", 4, 12_345), _health("b", 9, 0)]
    rows = views.health_rows(groups)
    assert [r["key"] for r in rows] == ["b", "a"]
    assert rows[1]["gmv"] == "¥123.45" and rows[0]["name"] == "群b"
    chart = views.health_chart(groups, "zh")
    assert chart.options["xAxis"]["data"] == ["群b", "群a"]
    assert [s["data"] for s in chart.options["series"]] == [[9, 4], [4, 2]]
    assert chart.options["series"][0]["name"] == "消息数"


def test_dormant_reasons_translated() -> None:
    found = [
        DormantGroup(
            chat_id="c",
            name="",
            owner_userid=None,
            last_message_at=None,
            last_join_at=datetime(2026, 11, 1, tzinfo=UTC),
            reasons=["no_messages", "joins_stalled"],
        )
    ]
    assert views.dormant_rows(found, "zh")[0]["why"] == "无消息、入群停滞"
    assert views.dormant_rows(found, "en")[0] == {
        "key": "c",
        "name": "c",
        "owner": "—",
        "why": "no messages, joins stalled",
    }
