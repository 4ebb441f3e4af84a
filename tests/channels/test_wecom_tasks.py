"""Staff in the loop against the fake WeCom server: tasks, reminders, SLA, caps, stats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import wecom_stats
from siyu.channels import wecom_tasks as tasks
from siyu.channels.models import Channel, MessageStatus, OutboundMessage, SendError
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_contacts import apply_contact_event
from siyu.channels.wecom_models import StaffLoopPolicy, StaffTaskState
from siyu.core.errors import ConflictError
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

WS = "ws_1"
EC = "/cgi-bin/externalcontact"
T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(fake: tuple[str, FakeState], clock: Clock) -> Iterator[WecomClient]:
    url, state = fake
    wecom = WecomClient(corp_id=state.corp_id, secret=state.secret, base_url=url, clock=clock)
    yield wecom
    wecom.close()


def _own(db: sessionmaker[Session], ext: str, userid: str) -> None:
    event = WecomContactEvent(
        corp_id="ww", change=ContactChange.ADD, userid=userid, external_userid=ext, at=T0
    )
    with db.begin() as session:
        apply_contact_event(session=session, workspace_id=WS, event=event, now=T0)


def _message(mid: str, to: str = "wmA", **kw: object) -> OutboundMessage:
    values: dict[str, object] = {
        "id": mid,
        "workspace_id": WS,
        "person_id": "p_1",
        "channel": Channel.WECOM,
        "recipient": to,
        "template": "promo",
        "params": {},
        "content": "双十一会员专享",
        "idempotency_key": f"k-{mid}",
    }
    values.update(kw)
    return OutboundMessage.model_validate(values)


def _transport(db, client, clock, **policy: object) -> tasks.WecomStaffTransport:
    return tasks.WecomStaffTransport(
        client=client, sessions=db, clock=clock, policy=StaffLoopPolicy.model_validate(policy)
    )


def _poll(db, client, clock, **policy: object):
    with db.begin() as session:
        return tasks.poll_staff_confirmations(
            session=session,
            client=client,
            workspace_id=WS,
            now=clock.now,
            policy=StaffLoopPolicy.model_validate(policy),
        )


def test_send_assigns_the_owner_and_a_retry_makes_no_second_task(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _own(db, "wmA", "zhangsan")
    transport = _transport(db, client, clock)
    delivery = transport.send(_message("m1"))
    assert delivery.status is MessageStatus.AWAITING_STAFF
    sent = state.calls(f"{EC}/add_msg_template")
    assert len(sent) == 1 and sent[0].body is not None
    assert sent[0].body["sender"] == "zhangsan" and sent[0].body["external_userid"] == ["wmA"]
    assert sent[0].body["text"] == {"content": "双十一会员专享"}
    again = transport.send(_message("m1"))
    assert again.provider_message_id == delivery.provider_message_id
    assert len(state.calls(f"{EC}/add_msg_template")) == 1


def test_no_owner_and_no_content_are_send_errors(
    db: sessionmaker[Session], client: WecomClient, clock: Clock
) -> None:
    transport = _transport(db, client, clock)
    with pytest.raises(SendError, match="owning staff"):
        transport.send(_message("m1", to="wmNOBODY"))
    _own(db, "wmA", "zhangsan")
    with pytest.raises(SendError, match="content"):
        transport.send(_message("m2", content=""))


def test_confirmation_reminders_and_stats(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _own(db, "wmA", "zhangsan")
    msgid = _transport(db, client, clock).send(_message("m1")).provider_message_id
    assert _poll(db, client, clock) == []  # too early to remind
    reminded = 0
    for _ in range(6):  # every 4 h for a day: WeCom allows 3 reminders in 24 h
        clock.now += timedelta(hours=4)
        out = _poll(db, client, clock, sla=timedelta(days=3))
        reminded += sum(o.reminded for o in out)
    assert reminded == 3 and state.tasks[msgid]["reminders"] == 3
    clock.now += timedelta(hours=4, minutes=1)  # 24 h after the first reminder: one more
    assert [o.reminded for o in _poll(db, client, clock, sla=timedelta(days=3))] == [True]
    confirmed_at = clock.now + timedelta(minutes=30)
    state.confirm(msgid, "zhangsan", int(confirmed_at.timestamp()))
    out = _poll(db, client, clock, sla=timedelta(days=3))
    assert [(o.message_id, o.status, o.fallback) for o in out] == [
        ("m1", StaffTaskState.CONFIRMED, False)
    ]
    with db() as session:
        task = tasks.get_task(session=session, workspace_id=WS, message_id="m1")
        stats = wecom_stats.staff_completion_stats(
            session=session, workspace_id=WS, since=T0, until=T0 + timedelta(days=7)
        )
    assert task.settled_at == confirmed_at and task.reminders == 4
    assert stats[0].sender == "zhangsan" and stats[0].confirmed == 1
    assert stats[0].median_seconds_to_confirm == (confirmed_at - T0).total_seconds()
    assert _poll(db, client, clock) == []  # settled tasks are not polled again


def test_sla_lapse_cancels_in_wecom_and_falls_back(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _own(db, "wmA", "zhangsan")
    _own(db, "wmB", "lisi")
    transport = _transport(db, client, clock)
    late = transport.send(_message("m1")).provider_message_id
    quick = transport.send(_message("m2", to="wmB")).provider_message_id
    state.confirm(quick, "lisi", int((T0 + timedelta(minutes=10)).timestamp()))
    clock.now = T0 + timedelta(hours=25)
    out = {o.message_id: o for o in _poll(db, client, clock, sla=timedelta(hours=24))}
    assert out["m1"].status is StaffTaskState.LAPSED and out["m1"].fallback
    assert out["m2"].status is StaffTaskState.CONFIRMED
    assert state.tasks[late].get("cancelled") is True
    with pytest.raises(SendError, match="lapsed"):
        transport.send(_message("m1"))  # a late retry does not resurrect it
    with db() as session:
        stats = {
            s.sender: s
            for s in wecom_stats.staff_completion_stats(
                session=session, workspace_id=WS, since=T0, until=clock.now
            )
        }
    assert (stats["zhangsan"].lapsed, stats["zhangsan"].confirm_rate) == (1, 0.0)
    assert stats["lisi"].median_seconds_to_confirm == 600


def test_wecom_busy_leaves_the_task_for_the_next_poll(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _own(db, "wmA", "zhangsan")
    _transport(db, client, clock).send(_message("m1"))
    clock.now += timedelta(days=2)
    state.fail_next(f"{EC}/get_groupmsg_task", -1)
    assert _poll(db, client, clock) == []
    assert [o.status for o in _poll(db, client, clock)] == [StaffTaskState.LAPSED]


def test_customer_cap_per_period(
    db: sessionmaker[Session], client: WecomClient, clock: Clock
) -> None:
    _own(db, "wmA", "zhangsan")
    transport = _transport(db, client, clock, cap=2)
    transport.send(_message("m1"))
    transport.send(_message("m2"))
    with pytest.raises(SendError) as caught:
        transport.send(_message("m3"))
    assert caught.value.details["reason"] == "monthly_cap"
    clock.now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 December in Beijing
    assert transport.send(_message("m4")).status is MessageStatus.AWAITING_STAFF


def test_default_cap_is_the_days_in_the_month() -> None:
    policy = StaffLoopPolicy()
    assert tasks.cap_for(policy, datetime(2026, 2, 10, tzinfo=UTC)) == 28
    assert tasks.cap_for(policy, datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == 31  # 1 Dec
    assert tasks.cap_for(StaffLoopPolicy(cap=4), T0) == 4


def test_group_send_and_manual_reminder_limit(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    transport = tasks.WecomStaffTransport(
        client=client, sessions=db, clock=clock, channel=Channel.WECOM_GROUP
    )
    group = _message("g1", to="wrCHAT1", channel=Channel.WECOM_GROUP, sender="wangwu")
    msgid = transport.send(group).provider_message_id
    assert state.tasks[msgid]["chat_type"] == "group"
    assert state.tasks[msgid]["chat_id_list"] == ["wrCHAT1"]
    with db.begin() as session:
        for _ in range(3):
            tasks.remind_task(
                session=session, client=client, workspace_id=WS, message_id="g1", now=clock.now
            )
        with pytest.raises(ConflictError, match="3 reminders"):
            tasks.remind_task(
                session=session, client=client, workspace_id=WS, message_id="g1", now=clock.now
            )
    assert state.tasks[msgid]["reminders"] == 3


def test_a_task_wecom_refuses_fails_without_blocking_the_others(
    db: sessionmaker[Session], client: WecomClient, fake: tuple[str, FakeState], clock: Clock
) -> None:
    _, state = fake
    _own(db, "wmA", "zhangsan")
    _own(db, "wmB", "lisi")
    transport = _transport(db, client, clock)
    transport.send(_message("m1"))
    clock.now += timedelta(seconds=1)
    quick = transport.send(_message("m2", to="wmB")).provider_message_id
    state.confirm(quick, "lisi", int(clock.now.timestamp()))
    state.fail_next(f"{EC}/get_groupmsg_task", 41063)  # the first task is unknown to WeCom
    out = {o.message_id: o for o in _poll(db, client, clock)}
    assert out["m1"].status is StaffTaskState.FAILED and out["m1"].fallback
    assert "41063" in (out["m1"].reason or "")
    assert out["m2"].status is StaffTaskState.CONFIRMED and not out["m2"].fallback
