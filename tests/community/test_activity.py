"""Group activity lives once, in community, whichever feed brings it (the assistant's group
callback, ingest, the contact callback); a leave frees its live-code seat; sync links members
through one batch look-up (SQLite and PostgreSQL, the fake WeCom server on 127.0.0.1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from siyu import pipeline
from siyu.assistant import service as assistant
from siyu.channels.wechat_group_messages import (
    MemberChange,
    WecomGroupMembers,
    WecomGroupMessage,
    parse_group_event,
)
from siyu.channels.wechat_xml import WecomContactEvent, parse_wecom_event
from siyu.collect.models import Identifier, IdType
from siyu.community import service as community
from siyu.community.models import (
    Group,
    GroupLiveCodeCreate,
    GroupScan,
    GroupScanCreate,
)
from siyu.community.tables import community_activity
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline import community as flow
from siyu.pipeline import privacy
from tests.community.conftest import NOW, Brand, identify
from tests.community.test_jobs_and_callbacks import _xml

WINDOW = {"since": NOW - timedelta(hours=1), "until": NOW + timedelta(hours=1)}


def _rows(rt: Runtime, ws: str, member: str) -> list[tuple[str, str | None, str | None]]:
    a = community_activity.c
    with rt.sessions() as s:
        rows = s.execute(
            select(a.kind, a.person_id, a.outcome)
            .where(a.workspace_id == ws, a.member_id == member)
            .order_by(a.kind)
        ).all()
    return [(r.kind, r.person_id, r.outcome) for r in rows]


def _group(rt: Runtime, ws: str, chat_id: str) -> Group:
    with rt.sessions() as s:
        found = community.find_group(session=s, workspace_id=ws, chat_id=chat_id)
    assert found is not None
    return found


def test_the_assistant_records_in_community_and_ingest_counts_it_once(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    join = WecomGroupMembers(corp_id="ww", chat_id="wrG2", change=MemberChange.JOINED,
                             members=["wmNEW"], at=NOW)  # fmt: skip
    question = WecomGroupMessage(corp_id="ww", chat_id="wrG2", msg_id="m1", sender="wmNEW",
                                 content="请问几点发货？", at=NOW)  # fmt: skip
    with rt.sessions() as s, s.begin():
        welcome = assistant.handle_members(session=s, workspace_id=ws, change=join)
        reply = assistant.handle_message(session=s, workspace_id=ws, message=question, now=NOW)
    assert welcome and "宝妈2群" in welcome  # the synced name, the assistant has none
    tracks = assistant.member_events(join) + assistant.message_events(question, reply)
    pipeline.ingest(runtime=rt, workspace_id=ws, messages=tracks, received_at=NOW)
    person = pipeline.find_person(
        runtime=rt, workspace_id=ws, identifier_type="wecom_external_userid", identifier="wmNEW"
    )
    assert person is not None
    # One row each, the person filled in at ingest (unknown when the callback recorded it).
    assert _rows(rt, ws, "wmNEW") == [
        ("joined", person.person_id, "welcomed"),
        ("message", person.person_id, "handover"),
    ]
    with rt.sessions() as s, s.begin():  # WeCom retries both: nothing is answered again
        assert assistant.handle_members(session=s, workspace_id=ws, change=join) is None
        again = assistant.handle_message(session=s, workspace_id=ws, message=question, now=NOW)
    assert again.text is None
    assert _group(rt, ws, "wrG2").members == 3  # zhangsan, wmD, wmNEW
    with rt.sessions() as s:
        [stats] = assistant.group_stats(session=s, workspace_id=ws, **WINDOW)
        health = community.activity_by_group(session=s, workspace_id=ws, **WINDOW)
    assert (stats.chat_id, stats.name, stats.members, stats.joins) == ("wrG2", "宝妈2群", 3, 1)
    assert (stats.messages, stats.questions, stats.handed_over) == (1, 1, 1)
    assert health["wrG2"] == {"joins": 1, "leaves": 0, "active_speakers": 1, "messages": 1}
    privacy.erase_person(runtime=rt, workspace_id=ws, person_id=person.person_id,
                         actor="test", now=NOW)  # fmt: skip
    assert _rows(rt, ws, "wmNEW") == []  # the plan erases the one store of group activity


def test_a_join_seen_first_at_the_contact_callback_is_still_welcomed_once(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    xml = _xml("wrG2", "update", "add_member", ("wmJ1",))
    event = parse_wecom_event(xml)
    assert not isinstance(event, WecomContactEvent)
    flow.apply_group_callback(runtime=rt, workspace_id=ws, event=event, xml=xml, now=NOW)
    change = parse_group_event(xml)
    assert isinstance(change, WecomGroupMembers)
    with rt.sessions() as s, s.begin():
        first = assistant.handle_members(session=s, workspace_id=ws, change=change)
        second = assistant.handle_members(session=s, workspace_id=ws, change=change)
    assert first is not None and second is None
    assert [kind for kind, _, _ in _rows(rt, ws, "wmJ1")] == ["joined"]
    assert _group(rt, ws, "wrG2").members == 3


def _scan(b: Brand, code_id: str, who: str) -> GroupScan:
    return flow.scan_live_code(runtime=b.runtime, workspace_id=b.workspace_id, code_id=code_id,
                               scan=GroupScanCreate(identifier=who), now=NOW,
                               idempotency_key=f"k-{who}")  # fmt: skip


def test_leaves_free_live_code_seats_never_below_members(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    code = GroupLiveCodeCreate(name="会员码", state="vip", chat_ids=["wrG3"],
                               owner_userid="lisi", cap=4, room_base_name="会员福利群")  # fmt: skip
    code_id = flow.create_live_code(runtime=rt, workspace_id=ws, code=code, now=NOW).id
    assert _scan(brand, code_id, "wmS1").chat_id == "wrG3"  # lisi, wmA, wmE + 1: full
    assert (_group(rt, ws, "wrG3").seats, _group(rt, ws, "wrG3").members) == (4, 3)
    left = _xml("wrG3", "update", "del_member", ("wmA",))
    for _ in range(2):  # WeCom's retry frees nothing more
        flow.apply_group_callback(
            runtime=rt, workspace_id=ws, event=parse_wecom_event(left), xml=left, now=NOW
        )
        assert (_group(rt, ws, "wrG3").seats, _group(rt, ws, "wrG3").members) == (3, 2)
    assert _scan(brand, code_id, "wmS2").chat_id == "wrG3"  # the freed seat, no new group
    wecom = brand.wecom.groups["wrG3"]
    wecom["member_list"] = [m for m in wecom["member_list"] if m["userid"] not in ("wmA", "wmE")]
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW + timedelta(minutes=1))
    synced = _group(rt, ws, "wrG3")
    assert (synced.seats, synced.members) == (3, 1)  # lisi + the two scanned customers' seats
    with rt.sessions() as s, s.begin():  # a group heard of by callbacks only: never negative
        for member, kind in [("wmP", "joined"), ("wmQ", "joined"), ("wmP", "left"),
                             ("wmQ", "left"), ("wmQ", "left"), ("wmZ", "left")]:  # fmt: skip
            community.record_activity(s, ws, event_key=f"t:{member}:{kind}", chat_id="wrFRESH",
                                      kind=kind, member_id=member, at=NOW)  # fmt: skip
    fresh = _group(rt, ws, "wrFRESH")
    assert (fresh.seats, fresh.members) == (0, 0)


def test_persons_are_found_for_many_identifiers_in_one_batch(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    known = {m: identify(rt, ws, m, NOW) for m in ("wmA", "wmB", "wmK3")}
    asked = [Identifier(IdType.WECOM_EXTERNAL_USERID, f"wmU{i:04d}") for i in range(1200)]
    asked[7:7] = [Identifier(IdType.WECOM_EXTERNAL_USERID, m) for m in known]  # spans chunks
    asked.append(Identifier(IdType.USER_ID, "u-wmA"))  # another type, same query pass
    with rt.sessions() as s:
        found = identity.find_persons(session=s, workspace_id=ws, identifiers=asked)
        elsewhere = identity.find_persons(session=s, workspace_id="ws_other", identifiers=asked)
    assert {i.key: p for i, p in found.items() if i.type is IdType.WECOM_EXTERNAL_USERID} == known
    assert found[Identifier(IdType.USER_ID, "u-wmA")] == known["wmA"]
    assert len(found) == 4 and elsewhere == {}
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)  # members linked by the batch
    with rt.sessions() as s:
        detail = community.get_group(session=s, workspace_id=ws, chat_id="wrG1")
    linked = {m.member_id: m.person_id for m in detail.member_list if m.person_id}
    assert linked == {"wmA": known["wmA"], "wmB": known["wmB"]}
