"""Journeys wired through the pipeline on SQLite and PostgreSQL: an ingested event enters a
journey, the scheduler's actions land in the outbox, profiles and loyalty once each, one
person's bad action fails alone, subscriptions are granted by accept events, a staff task
that cannot go out takes the fallback, and segment refreshes enter segment journeys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from siyu import pipeline
from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import ConsentStatus
from siyu.channels.tables import channel_messages
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.journeys import service as journeys
from siyu.journeys import stats
from siyu.journeys.definition import parse_definition
from siyu.journeys.tables import journey_states
from siyu.loyalty import coupon_service, points
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.pipeline import journey_jobs
from siyu.profiles import tags
from siyu.profiles.tag_models import TagCreate, TagGroupCreate
from siyu.segments import service as segments
from siyu.segments.models import CONDITION, SegmentCreate
from siyu.workspaces import service as workspaces

NOW = datetime.fromisoformat("2026-11-28T02:30:00+00:00")


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def _track(rt: Runtime, ws: str, user: str, event: str, n: int, **props: Any) -> str:
    pipeline.ingest(
        runtime=rt, workspace_id=ws, received_at=NOW,
        messages=[{"type": "track", "event": event, "messageId": f"{user}-{n}", "userId": user,
                   "timestamp": NOW.isoformat(), "properties": props,
                   "context": {"traits": {"phone": f"1380013{n:04d}"}}}],
    )  # fmt: skip
    found = pipeline.find_person(
        runtime=rt, workspace_id=ws, identifier_type="user_id", identifier=user
    )
    assert found is not None
    return found.person_id


def _setup(rt: Runtime) -> tuple[str, str]:
    with rt.sessions() as s, s.begin():
        ws = workspaces.create_workspace(session=s, name="品牌", now=NOW).workspace_id
        tags.create_group(session=s, workspace_id=ws, group=TagGroupCreate(name="旅程"), now=NOW)
        tags.create_tag(session=s, workspace_id=ws, tag=TagCreate(group="旅程", name="新客"),
                        now=NOW)  # fmt: skip
        coupon = coupon_service.create_template(
            session=s, workspace_id=ws, now=NOW,
            template=CouponTemplateCreate(name="新客券", kind="amount_off", amount_off_fen=500,
                                          valid_days=7, per_person_limit=1),
        ).id  # fmt: skip
        hello = TemplatePut(
            channel=Channel.SMS, name="hello", body="你好 {{ name }}", sender="品牌"
        )
        channels.put_template(session=s, workspace_id=ws, now=NOW, template=hello)
    return ws, coupon


def _journey(rt: Runtime, ws: str, data: dict[str, Any]) -> str:
    with rt.sessions() as s, s.begin():
        j = journeys.create_journey(
            session=s, workspace_id=ws, definition=parse_definition(data), now=NOW
        )
        journeys.set_status(session=s, workspace_id=ws, journey_id=j.id,
                            status=journeys.JourneyStatus.ACTIVE, now=NOW)  # fmt: skip
    return j.id


def _welcome(tag: str, coupon: str) -> dict[str, Any]:
    return {
        "name": "welcome",
        "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "sms",
        "nodes": [
            {"type": "action", "id": "sms", "next": "tag", "action": {
                "type": "send_message", "channel": "sms", "template": "hello",
                "params": {"name": "{{name|朋友}}"}}},
            {"type": "action", "id": "tag", "next": "points",
             "action": {"type": "add_tag", "tag": tag}},
            {"type": "action", "id": "points", "next": "coupon",
             "action": {"type": "award_points", "points": 50, "reason": "welcome"}},
            {"type": "action", "id": "coupon", "next": "hook",
             "action": {"type": "issue_coupon", "template_id": coupon}},
            {"type": "action", "id": "hook", "next": "end", "action": {
                "type": "call_webhook", "url": "http://127.0.0.1:9/hook", "payload": {"k": "v"}}},
            {"type": "exit", "id": "end"},
        ],
    }  # fmt: skip


def _messages(rt: Runtime, ws: str) -> list[Any]:
    m = channel_messages.c
    with rt.sessions() as s:
        return list(
            s.execute(
                select(m.person_id, m.channel, m.status, m.reason, m.source).where(
                    m.workspace_id == ws
                )
            )
        )


def test_actions_land_once_each(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    jid = _journey(runtime, ws, _welcome("旅程/新客", coupon))
    alice = _track(runtime, ws, "alice", "Signed Up", 1)
    with runtime.sessions() as s, s.begin():
        channels.set_consent(session=s, workspace_id=ws, person_id=alice, channel=Channel.SMS,
                             status=ConsentStatus.GRANTED, source="test", now=NOW)  # fmt: skip
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    assert journey_jobs.advance_journeys(runtime, NOW + timedelta(minutes=1)) == 0
    _track(runtime, ws, "alice", "Signed Up", 2)  # no re-entry by default
    assert journey_jobs.advance_journeys(runtime, NOW + timedelta(minutes=2)) == 0

    sent = sorted((r.channel, r.status, r.source) for r in _messages(runtime, ws))
    assert sent == [
        ("sms", "queued", f"journey:{jid}:sms"),
        ("webhook", "queued", f"journey:{jid}:hook"),
    ]
    with runtime.sessions() as s:
        assert tags.persons_with_tag(session=s, workspace_id=ws, tag="旅程/新客") == [alice]
        assert points.get_account(session=s, workspace_id=ws, person_id=alice).balance == 50
        issued = coupon_service.list_coupons(session=s, workspace_id=ws, person_id=alice, now=NOW)
        assert len(issued) == 1
        found = stats.journey_stats(session=s, workspace_id=ws, journey_id=jid)
    assert {n.node_id: n.failed for n in found.nodes}.get("tag", 0) == 0


def test_one_bad_action_fails_alone(runtime: Runtime) -> None:
    ws, coupon = _setup(runtime)
    jid = _journey(runtime, ws, _welcome("旅程/不存在", coupon))  # the tag does not exist
    bob = _track(runtime, ws, "bob", "Signed Up", 3)
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    with runtime.sessions() as s:
        found = stats.journey_stats(session=s, workspace_id=ws, journey_id=jid)
        assert points.get_account(session=s, workspace_id=ws, person_id=bob).balance == 50
    failed = {n.node_id: n.failed for n in found.nodes}
    assert failed["tag"] == 1
    assert failed["points"] == 0
    # No SMS consent was given: the message is held with its reason, not lost.
    held = [r for r in _messages(runtime, ws) if r.channel == "sms"]
    assert [(r.status, r.reason) for r in held] == [("held", "no_consent")]


def test_subscribe_event_grants_sends(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    carol = _track(runtime, ws, "carol", "mp_subscribe_accepted", 4, template_ids=["T1", "T2"])
    _track(runtime, ws, "carol", "mp_subscribe_accepted", 4, template_ids=["T1", "T2"])  # replay
    with runtime.sessions() as s:
        for template in ("T1", "T2"):
            left = channels.subscriptions_remaining(
                session=s, workspace_id=ws, person_id=carol, template_id=template
            )
            assert left.remaining == 1


def test_staff_task_that_cannot_go_takes_fallback(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    jid = _journey(runtime, ws, {
        "name": "staff", "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
        "start": "ask",
        "nodes": [
            {"type": "staff_task", "id": "ask", "task": "打个招呼", "sla": "P1D",
             "next": "done", "fallback": "sms"},
            {"type": "action", "id": "sms", "next": "done", "action": {
                "type": "send_message", "channel": "sms", "template": "hello",
                "params": {"name": "朋友"}}},
            {"type": "exit", "id": "done"},
        ],
    })  # fmt: skip
    _track(runtime, ws, "dave", "Signed Up", 5)
    journey_jobs.advance_journeys(runtime, NOW)
    # dave has no WeCom contact: the staff message is held (no address) at once.
    assert [(r.channel, r.reason) for r in _messages(runtime, ws)] == [("wecom", "no_address")]
    assert journey_jobs.settle_staff_tasks(runtime, NOW) == 1
    assert journey_jobs.settle_staff_tasks(runtime, NOW) == 0  # settled once
    assert journey_jobs.advance_journeys(runtime, NOW) == 1
    assert sorted(r.source for r in _messages(runtime, ws)) == [
        f"journey:{jid}:ask",
        f"journey:{jid}:sms",
    ]
    with runtime.sessions() as s:
        states = s.execute(select(journey_states.c.status)).scalars().all()
    assert states == ["exited"]


def test_segment_refresh_enters_segment_journeys(runtime: Runtime) -> None:
    ws, _ = _setup(runtime)
    rule = {"type": "trait", "name": "city", "op": "eq", "value": "杭州"}
    with runtime.sessions() as s, s.begin():
        seg = segments.create_segment(
            session=s, workspace_id=ws, now=NOW,
            segment=SegmentCreate(name="杭州", definition=CONDITION.validate_python(rule)),
        ).id  # fmt: skip
    entered = _journey(runtime, ws, {
        "name": "in", "trigger": {"type": "segment_entered", "segment_id": seg}, "start": "end",
        "nodes": [{"type": "exit", "id": "end"}]})  # fmt: skip
    left = _journey(runtime, ws, {
        "name": "out", "trigger": {"type": "segment_left", "segment_id": seg}, "start": "end",
        "nodes": [{"type": "exit", "id": "end"}]})  # fmt: skip
    for n, city in ((1, "杭州"), (2, "上海")):
        pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=NOW, messages=[
            {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}",
             "traits": {"city": city}}])  # fmt: skip
    pipeline.refresh_segment(runtime=runtime, workspace_id=ws, segment_id=seg, now=NOW)
    pipeline.refresh_segment(runtime=runtime, workspace_id=ws, segment_id=seg, now=NOW)

    def entries(journey_id: str) -> int:
        with runtime.sessions() as s:
            return len(
                s.execute(
                    select(journey_states.c.id).where(journey_states.c.journey_id == journey_id)
                ).all()
            )

    assert (entries(entered), entries(left)) == (1, 0)  # a second refresh changes nothing
    later = NOW + timedelta(hours=1)
    pipeline.ingest(runtime=runtime, workspace_id=ws, received_at=later, messages=[
        {"type": "identify", "messageId": "i3", "userId": "u1", "traits": {"city": "上海"},
         "timestamp": later.isoformat()}])  # fmt: skip
    pipeline.refresh_segment(runtime=runtime, workspace_id=ws, segment_id=seg, now=later)
    assert (entries(entered), entries(left)) == (1, 1)
