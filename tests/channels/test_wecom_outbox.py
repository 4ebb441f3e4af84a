# ruff: noqa: F401, F811  (the ws fixture is imported, then requested by name)
"""Staff in the loop end to end: outbox → dispatcher → WeCom task → staff confirms or the SLA
lapses → the outbox message is settled (SQLite and PostgreSQL, fake WeCom on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import service as channels
from siyu.channels import wecom_tasks
from siyu.channels.dispatch import dispatch_due
from siyu.channels.models import (
    Channel,
    HoldReason,
    MessageRequest,
    MessageStatus,
    Purpose,
)
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.wechat_xml import ContactChange, WecomContactEvent
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_contacts import apply_contact_event
from siyu.channels.wecom_models import StaffLoopPolicy, StaffTaskState
from siyu.core.db import transaction
from tests.channels.fake_wechat import FakeState, serve_fake_wechat
from tests.channels.outbox_fixtures import make_person, ws

EC = "/cgi-bin/externalcontact"


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeState]]:
    with serve_fake_wechat() as served:
        yield served


def _request(person: str, key: str, purpose: Purpose = Purpose.TRANSACTIONAL) -> MessageRequest:
    return MessageRequest(
        person_id=person,
        channel=Channel.WECOM,
        template="promo",
        params={"name": "王女士"},
        purpose=purpose,
        source="journey:j1:n2",
        idempotency_key=key,
    )


def _status(db: sessionmaker[Session], ws: str, message_id: str):
    with db() as session:
        found = [
            m
            for m in channels.list_messages(session=session, workspace_id=ws)
            if m.id == message_id
        ]
    return found[0]


def test_confirm_lapse_and_cap_through_the_outbox(
    db: sessionmaker[Session],
    ws: str,
    now: datetime,
    fake: tuple[str, FakeState],
) -> None:
    url, state = fake
    person = make_person(db, ws, now, consent=(Channel.WECOM,), wecom_external_userid="wmA")
    event = WecomContactEvent(
        corp_id="ww",
        change=ContactChange.ADD,
        userid="zhangsan",
        external_userid="wmA",
        at=now - timedelta(days=3),
    )
    with transaction(db) as session:
        apply_contact_event(session=session, workspace_id=ws, event=event, now=now)
        channels.put_template(
            session=session,
            workspace_id=ws,
            now=now,
            template=TemplatePut(
                channel=Channel.WECOM, name="promo", body="{{ name }}，会员日到店礼"
            ),
        )
        first = channels.enqueue(
            session=session, workspace_id=ws, request=_request(person, "k1"), now=now
        )
        second = channels.enqueue(
            session=session, workspace_id=ws, request=_request(person, "k2"), now=now
        )
        third = channels.enqueue(
            session=session, workspace_id=ws, request=_request(person, "k3"), now=now
        )
    assert first.status is MessageStatus.QUEUED

    client = WecomClient(corp_id=state.corp_id, secret=state.secret, base_url=url)
    transport = wecom_tasks.WecomStaffTransport(
        client=client, sessions=db, clock=lambda: now, policy=StaffLoopPolicy(cap=2)
    )
    report = dispatch_due(session_factory=db, transports={Channel.WECOM: transport}, now=now)
    assert (report.awaiting_staff, report.held) == (2, 1)
    sent = [c.body for c in state.calls(f"{EC}/add_msg_template")]
    assert [b["text"]["content"] for b in sent if b] == ["王女士，会员日到店礼"] * 2
    assert _status(db, ws, first.message_id).status is MessageStatus.AWAITING_STAFF
    held = _status(db, ws, third.message_id)
    assert (held.status, held.reason) == (MessageStatus.HELD, HoldReason.MONTHLY_CAP)

    with transaction(db) as session:
        msgid = wecom_tasks.get_task(
            session=session, workspace_id=ws, message_id=first.message_id
        ).msgid
    state.confirm(msgid, "zhangsan", int((now + timedelta(hours=1)).timestamp()))
    later = now + timedelta(hours=30)
    with transaction(db) as session:
        outcomes = wecom_tasks.poll_staff_confirmations(
            session=session, client=client, workspace_id=ws, now=later, sla=timedelta(hours=24)
        )
    assert {o.message_id: o.status for o in outcomes} == {
        first.message_id: StaffTaskState.CONFIRMED,
        second.message_id: StaffTaskState.LAPSED,
    }
    done = _status(db, ws, first.message_id)
    assert done.status is MessageStatus.SENT and done.provider_message_id == msgid
    lapsed = _status(db, ws, second.message_id)
    assert lapsed.status is MessageStatus.FAILED and "SLA" in (lapsed.last_error or "")
    client.close()
