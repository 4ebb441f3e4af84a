"""The community jobs through ``run_jobs``, WeCom group callbacks through the pipeline, and
the pure SOP schedule and spam signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from siyu import pipeline
from siyu.channels.wechat_xml import WecomContactEvent, parse_wecom_event
from siyu.community import service as community
from siyu.community.models import CommunitySettings, GroupHealth, Schedule, SopCreate
from siyu.pipeline import community as flow
from siyu.pipeline import community_health
from tests.community.conftest import NOW, Brand

ZONE = "Asia/Shanghai"


def test_next_run_daily_weekly_once() -> None:
    at = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 Saturday in Shanghai
    daily = Schedule(every="day", time="09:30")
    assert community.next_run(daily, after=at, zone=ZONE) == datetime(
        2026, 11, 29, 1, 30, tzinfo=UTC
    )
    weekly = Schedule(every="week", time="20:00", weekday=0)
    assert community.next_run(weekly, after=at, zone=ZONE) == datetime(
        2026, 11, 30, 12, 0, tzinfo=UTC
    )
    once = Schedule(every="once", at=at)
    assert community.next_run(once, after=at, zone=ZONE) is None


def test_spam_signals() -> None:
    assert community.spam_signals("今晚8点直播，记得来哦", 1) == []
    assert community.spam_signals("加我微信 www.deal.cn", 1) == ["link", "qr_ad"]
    assert community.spam_signals("在吗", 8) == ["flood"]


def _xml(chat_id: str, change: str, detail: str = "", members: tuple[str, ...] = ()) -> str:
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    return (
        "<xml><ToUserName><![CDATA[wwFAKECORP]]></ToUserName><FromUserName><![CDATA[sys]]>"
        f"</FromUserName><CreateTime>{int(NOW.timestamp())}</CreateTime><MsgType><![CDATA[event]]>"
        "</MsgType><Event><![CDATA[change_external_chat]]></Event>"
        f"<ChatId><![CDATA[{chat_id}]]></ChatId><ChangeType><![CDATA[{change}]]></ChangeType>"
        f"<UpdateDetail><![CDATA[{detail}]]></UpdateDetail><JoinScene>3</JoinScene>"
        f"<MemChangeCnt>{len(members)}</MemChangeCnt><MemChangeList>{items}</MemChangeList></xml>"
    )


def test_group_callbacks_feed_members_and_lifecycle(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)

    def apply(xml: str) -> str | None:
        event = parse_wecom_event(xml)
        assert not isinstance(event, WecomContactEvent)
        work = flow.apply_group_callback(runtime=rt, workspace_id=ws, event=event, xml=xml, now=NOW)
        assert work.reply is None
        return work.refresh_chat_id

    joined = _xml("wrG2", "update", "add_member", ("wmJ1", "wmJ2"))
    assert apply(joined) is None
    assert apply(joined) is None  # WeCom's retry
    apply(_xml("wrG2", "update", "del_member", ("wmD",)))
    with rt.sessions() as s:
        g2 = community.get_group(session=s, workspace_id=ws, chat_id="wrG2")
    assert g2.members == 3  # zhangsan, wmJ1, wmJ2
    health = pipeline_health(brand)
    assert (health.joins, health.leaves) == (2, 1)
    assert apply(_xml("wrNEW", "create")) == "wrNEW"  # read from WeCom after the answer
    apply(_xml("wrG1", "dismiss"))
    with rt.sessions() as s:
        assert community.get_group(session=s, workspace_id=ws, chat_id="wrG1").status == "dismissed"


def pipeline_health(brand: Brand) -> GroupHealth:
    report = community_health.group_health(
        runtime=brand.runtime,
        workspace_id=brand.workspace_id,
        since=NOW - timedelta(hours=1),
        until=NOW + timedelta(hours=1),
    )
    return next(g for g in report.groups if g.key == "wrG2")


def test_jobs_post_sops_and_alert_dormant_groups(brand: Brand) -> None:
    rt, ws, fake = brand.runtime, brand.workspace_id, brand.wecom
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    with rt.sessions() as s, s.begin():
        community.create_sop(
            session=s,
            workspace_id=ws,
            zone=ZONE,
            now=NOW,
            sop=SopCreate(
                name="日常",
                text="早安",
                chat_ids=["wrG2"],
                schedule=Schedule(every="day", time="10:00"),
            ),
        )
        community.set_settings(
            session=s,
            workspace_id=ws,
            now=NOW,
            settings=CommunitySettings(agent_id="1000002", dormant_days=7),
        )
    at = NOW + timedelta(days=1, minutes=1)  # 12:01 Shanghai next day: the 10:00 run is due
    runs = pipeline.run_jobs(
        runtime=rt,
        now=at,
        workspace_id=ws,
        only=["group_sops", "group_live_codes", "group_dormant_alerts"],
    )
    by_job = {r.job: r for r in runs}
    assert all(r.status == "ran" for r in runs), runs
    assert by_job["group_sops"].detail["created"] == 1
    assert by_job["group_dormant_alerts"].detail["dormant"] == 3  # synced groups, all quiet
    assert sorted(m["touser"] for m in fake.staff_messages) == ["lisi", "zhangsan"]
    with rt.sessions() as s:
        tasks = community.list_tasks(session=s, workspace_id=ws, kind="dormant")
        sops = community.list_sops(session=s, workspace_id=ws)
    assert len(tasks) == 3 and all(t.notified for t in tasks)
    assert sops[0].next_run_at == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    again = pipeline.run_jobs(runtime=rt, now=at, workspace_id=ws, only=["group_sops"])
    assert again[0].status == "skipped"
