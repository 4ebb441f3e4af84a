"""Community end to end on SQLite and PostgreSQL, against the fake WeCom server: sync groups
and members → a group live code rotates when a group is full and makes a new group when all
are → an SOP post becomes a WeCom group mass send the owner confirms → health shows it."""

from __future__ import annotations

from datetime import timedelta

from siyu import pipeline
from siyu.community import service as community
from siyu.community.models import GroupLiveCodeCreate, GroupScanCreate, SopCreate
from siyu.pipeline import community as flow
from siyu.pipeline import community_health, community_sops
from tests.community.conftest import NOW, Brand, identify, order


def _scan(b: Brand, code_id: str, who: str, at_minute: int) -> str | None:
    scan = flow.scan_live_code(
        runtime=b.runtime,
        workspace_id=b.workspace_id,
        code_id=code_id,
        scan=GroupScanCreate(identifier=who),
        now=NOW + timedelta(minutes=at_minute),
        idempotency_key=f"scan-{who}",
    )
    assert scan.outcome == "seated"
    return scan.chat_id


def test_sync_live_code_sop_and_health(brand: Brand) -> None:
    rt, ws, fake = brand.runtime, brand.workspace_id, brand.wecom
    persons = {e: identify(rt, ws, e, NOW - timedelta(days=40)) for e in ("wmA", "wmB", "wmE")}
    order(rt, ws, "wmA", NOW - timedelta(days=2), 12_800, "o1")
    order(rt, ws, "wmB", NOW - timedelta(days=40), 5_000, "o-old")  # before the period

    report = flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    assert (report.groups, report.new_groups, report.linked_persons) == (3, 3, 4)  # wmA twice
    with rt.sessions() as s:
        g1 = community.get_group(session=s, workspace_id=ws, chat_id="wrG1")
        community.set_tags(session=s, workspace_id=ws, chat_id="wrG3", tags=["VIP"])
        s.commit()
    assert (g1.owner_userid, g1.members, g1.seats) == ("zhangsan", 4, 4)
    linked = {m.member_id: m.person_id for m in g1.member_list}
    assert linked["wmA"] == persons["wmA"] and linked["zhangsan"] is None

    # The live code over 宝妈1群 (4 of 5) and 宝妈2群 (2 of 5): 1 + 3 seats, then a new group.
    code = flow.create_live_code(
        runtime=rt,
        workspace_id=ws,
        now=NOW,
        code=GroupLiveCodeCreate(
            name="宝妈福利",
            state="mom",
            chat_ids=["wrG1", "wrG2"],
            owner_userid="zhangsan",
            cap=5,
            room_base_name="宝妈福利群",
        ),
    )
    assert code.config_id is not None and code.current_chat_id == "wrG1"
    way = fake.join_ways[code.config_id]
    assert way["chat_id_list"] == ["wrG1"] and way["auto_create_room"] == 1
    seated = [_scan(brand, code.id, f"wmN{i}", i) for i in range(5)]
    assert seated[:4] == ["wrG1", "wrG2", "wrG2", "wrG2"]
    assert seated[4] is not None and seated[4].startswith("pending:")
    assert fake.join_ways[code.config_id]["chat_id_list"] == ["wrG2"]  # rotated in WeCom
    assert fake.join_ways[code.config_id]["room_base_id"] == 1  # WeCom opens 宝妈福利群1
    with rt.sessions() as s:
        groups = {g.chat_id: g for g in community.list_groups(session=s, workspace_id=ws)}
    assert (groups["wrG1"].seats, groups["wrG2"].seats) == (5, 5)
    assert groups[seated[4]].name == "宝妈福利群1" and groups[seated[4]].seats == 1

    # WeCom opens the group when the next customer comes; a sync binds it to the pending row.
    fake.group_cap = 1  # 宝妈2群 is full in WeCom too
    made = fake.scan_join_way(code.config_id, "wmN4", int(NOW.timestamp()) + 600)
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW + timedelta(minutes=15))
    with rt.sessions() as s:
        bound = community.get_code(session=s, workspace_id=ws, code_id=code.id)
        group = community.get_group(session=s, workspace_id=ws, chat_id=made)
        stats = community.code_stats(session=s, workspace_id=ws, code_id=code.id)
    assert bound.chat_ids == ["wrG1", "wrG2", made] and bound.current_chat_id == made
    assert group.name == "宝妈福利群1" and group.status.value == "active"
    assert stats.by_group == {"wrG1": 1, "wrG2": 3, made: 1}
    assert fake.join_ways[code.config_id]["chat_id_list"][-1] == made

    # The SOP: 宝妈1群 and the VIP-tagged 会员群 → one group mass send per owner.
    with rt.sessions() as s, s.begin():
        sop = community.create_sop(
            session=s,
            workspace_id=ws,
            zone="Asia/Shanghai",
            now=NOW,
            sop=SopCreate.model_validate(
                {
                    "name": "周五福利",
                    "text": "今晚8点福利秒杀",
                    "chat_ids": ["wrG1"],
                    "tag": "VIP",
                    "schedule": {"every": "once", "at": (NOW + timedelta(hours=1)).isoformat()},
                }
            ),
        )
    assert community_sops.run_due_sops(runtime=rt, workspace_id=ws, now=NOW) == []
    at = NOW + timedelta(hours=1, minutes=2)
    tasks = community_sops.run_due_sops(runtime=rt, workspace_id=ws, now=at)
    by_sender = {t.sender: t for t in tasks}
    assert set(by_sender) == {"zhangsan", "lisi"}
    assert by_sender["zhangsan"].chat_ids == ["wrG1"] and by_sender["lisi"].chat_ids == ["wrG3"]
    assert all(t.status == "awaiting" and t.msgid for t in tasks)
    sent = fake.tasks[by_sender["zhangsan"].msgid or ""]
    assert (sent["chat_type"], sent["sender"], sent["chat_id_list"]) == (
        "group",
        "zhangsan",
        ["wrG1"],
    )
    assert community_sops.run_due_sops(runtime=rt, workspace_id=ws, now=at) == []  # once
    fake.confirm(by_sender["zhangsan"].msgid or "", "zhangsan", int(at.timestamp()) + 60)
    polled = community_sops.poll_sop_tasks(runtime=rt, workspace_id=ws, now=at)
    assert [(t.sender, t.status, t.results) for t in polled] == [
        ("zhangsan", "confirmed", {"wrG1": "sent"})
    ]
    with rt.sessions() as s:
        assert not community.get_sop(session=s, workspace_id=ws, sop_id=sop.id).active

    # Group activity through the collect path, as the assistant's callbacks ingest it.
    messages = [
        {
            "type": "track",
            "event": "group_message",
            "anonymousId": f"wecom:{who}",
            "messageId": f"wecom-group:corp:msg{i}",
            "timestamp": (at + timedelta(minutes=i)).isoformat(),
            "context": {"externalIds": [{"type": "wecom_external_userid", "id": who}]},
            "properties": {"chat_id": "wrG1"},
        }
        for i, who in enumerate(["wmA", "wmA", "wmB"])
    ]
    pipeline.ingest(runtime=rt, workspace_id=ws, messages=messages, received_at=at)
    pipeline.ingest(runtime=rt, workspace_id=ws, messages=messages[:1], received_at=at)  # retry
    health = community_health.group_health(
        runtime=rt, workspace_id=ws, since=NOW - timedelta(days=7), until=at + timedelta(hours=1)
    )
    g1_health = next(g for g in health.groups if g.key == "wrG1")
    assert (g1_health.messages, g1_health.active_speakers) == (3, 2)
    assert (g1_health.orders, g1_health.gmv_fen) == (1, 12_800)
    zhang = next(o for o in health.owners if o.key == "zhangsan")
    assert zhang.groups == 3 and zhang.gmv_fen == 12_800
    lisi = next(o for o in health.owners if o.key == "lisi")
    assert (lisi.orders, lisi.gmv_fen) == (1, 12_800)  # wmA is in 会员群 too
