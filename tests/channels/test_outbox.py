"""enqueue on SQLite and PostgreSQL: addresses, templates, consent, caps, quiet hours, priority."""
# ruff: noqa: F811  (the ws fixture is imported from outbox_fixtures and used as an argument)

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import service as channels
from siyu.channels.models import (
    Channel,
    HoldReason,
    MessageRequest,
    MessageStatus,
    Purpose,
)
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.restraint import ConsentStatus, PlannedSend, RestraintPolicy
from siyu.channels.tables import channel_messages
from siyu.core.db import transaction
from siyu.core.errors import AuthError, InvalidInputError
from siyu.profiles.tables import profile_traits
from tests.channels.outbox_fixtures import VAULT, make_person, ws  # noqa: F401

NOON = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
M = channel_messages.c


def req(person: str, key: str, **kw: object) -> MessageRequest:
    base: dict[str, object] = {"channel": Channel.SMS, "template": "SMS_1"}
    return MessageRequest(person_id=person, idempotency_key=key, **(base | kw))  # type: ignore[arg-type]


def send(db: sessionmaker[Session], ws: str, request: MessageRequest, now: datetime = NOON):
    with transaction(db) as session:
        return channels.enqueue(session=session, workspace_id=ws, request=request, now=now)


def row(db: sessionmaker[Session], message_id: str) -> dict[str, object]:
    with db() as session:
        return dict(
            session.execute(select(channel_messages).where(M.id == message_id)).one()._mapping
        )


def test_queued_once_per_key_with_the_phone_encrypted(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    first = send(db, ws, req(p, "k1", params={"code": "1234"}))
    again = send(db, ws, req(p, "k1", params={"code": "1234"}))
    assert first.status is MessageStatus.QUEUED and not first.duplicate
    assert again.duplicate and again.message_id == first.message_id
    stored = row(db, first.message_id)
    assert stored["recipient"] is None
    assert VAULT.decrypt(str(stored["recipient_encrypted"])) == "13800138000"
    assert stored["provider_template_id"] == "SMS_1" and stored["params"] == {"code": "1234"}
    with db() as session:
        assert session.execute(select(func.count()).select_from(channel_messages)).scalar() == 1


def test_enqueue_writes_in_the_callers_transaction(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    with db() as session, pytest.raises(RuntimeError), session.begin():
        channels.enqueue(session=session, workspace_id=ws, request=req(p, "k"), now=NOON)
        raise RuntimeError("the journey step failed")
    assert send(db, ws, req(p, "k")).duplicate is False  # nothing was kept


def test_held_rows_say_why(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000")
    held = send(db, ws, req(p, "a"))
    assert (held.status, held.reason) == (MessageStatus.HELD, HoldReason.NO_CONSENT)
    nomail = send(db, ws, req(p, "b", channel=Channel.MP_TEMPLATE, purpose=Purpose.TRANSACTIONAL))
    assert nomail.reason is HoldReason.NO_ADDRESS
    stored = row(db, held.message_id)
    assert (stored["status"], stored["reason"], stored["due_at"]) == ("held", "no_consent", None)


def test_caps_priority_and_transactional_bypass(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    low = send(db, ws, req(p, "low", priority=1, source="journey:j1:n1"))
    same = send(db, ws, req(p, "same", priority=1, source="journey:j1:n2"))
    high = send(db, ws, req(p, "high", priority=9, source="journey:j2:n1"))
    tx = send(db, ws, req(p, "tx", purpose=Purpose.TRANSACTIONAL, source="api"))
    assert low.status is MessageStatus.QUEUED
    assert same.reason is HoldReason.DAILY_CAP
    assert high.status is MessageStatus.QUEUED
    assert tx.status is MessageStatus.QUEUED
    assert row(db, low.message_id)["reason"] == "lower_priority"
    with db() as session:
        stats = {s.source: s for s in channels.stats_by_source(session=session, workspace_id=ws)}
        j1 = channels.stats_by_source(session=session, workspace_id=ws, prefix="journey:j1:")
    assert stats["journey:j1:n1"].held_by_reason == {"lower_priority": 1}
    assert stats["journey:j2:n1"].by_status == {"queued": 1}
    assert {s.source for s in j1} == {"journey:j1:n1", "journey:j1:n2"}


def test_quiet_hours_defer_and_record_it(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, email="Li@Example.com", consent=(Channel.EMAIL,))
    with transaction(db) as session:
        channels.put_template(
            session=session,
            workspace_id=ws,
            template=TemplatePut(
                channel=Channel.EMAIL,
                name="hello",
                subject="{{ name }}，好久不见",
                body="{{ name }}，您有 {{ points }} 积分将到期。",
                sender="brand@example.com",
            ),
            now=NOON,
        )
    late = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    out = send(
        db,
        ws,
        req(
            p,
            "e",
            channel=Channel.EMAIL,
            template="hello",
            params={"name": "李雷", "points": "120"},
        ),
        now=late,
    )
    stored = row(db, out.message_id)
    assert out.status is MessageStatus.QUEUED and stored["deferred"] is True
    assert stored["send_at"] == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert stored["content"] == "李雷，您有 120 积分将到期。"
    assert stored["subject"] == "李雷，好久不见" and stored["sender"] == "brand@example.com"
    assert VAULT.decrypt(str(stored["recipient_encrypted"])) == "li@example.com"
    with pytest.raises(InvalidInputError) as missing:
        send(db, ws, req(p, "e2", channel=Channel.EMAIL, template="hello", params={"name": "x"}))
    assert missing.value.field == "params"


def test_the_sandbox_refuses_python_internals(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    with transaction(db) as session:
        channels.put_template(
            session=session,
            workspace_id=ws,
            template=TemplatePut(
                channel=Channel.SMS, name="evil", body="{{ x.__class__.__mro__ }}"
            ),
            now=NOON,
        )
    with pytest.raises(InvalidInputError):
        send(db, ws, req(p, "evil", template="evil", params={"x": "1"}))


def test_unsubscribe_by_sms_reply_and_signed_link(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(
        db, ws, NOON, phone="13800138000", email="a@b.cn", consent=(Channel.SMS, Channel.EMAIL)
    )
    with transaction(db) as session:
        none = channels.unsubscribe_by_sms_reply(
            session=session,
            workspace_id=ws,
            vault=VAULT,
            phone="+86 138 0013 8000",
            text="好的",
            now=NOON,
        )
        done = channels.unsubscribe_by_sms_reply(
            session=session,
            workspace_id=ws,
            vault=VAULT,
            phone="+86 138 0013 8000",
            text=" td ",
            now=NOON,
        )
    assert none is None and done is not None and done.status is ConsentStatus.REVOKED
    tx = send(db, ws, req(p, "tx", purpose=Purpose.TRANSACTIONAL))
    assert tx.reason is HoldReason.UNSUBSCRIBED  # an explicit revoke holds transactional too
    secret = b"s" * 32
    token = channels.unsubscribe_token(
        secret=secret, workspace_id=ws, person_id=p, channel=Channel.EMAIL
    )
    with transaction(db) as session:
        with pytest.raises(AuthError):
            channels.unsubscribe_with_token(
                session=session, secret=b"x" * 32, token=token, now=NOON
            )
        channels.unsubscribe_with_token(session=session, secret=secret, token=token, now=NOON)
        history = channels.consent_history(session=session, workspace_id=ws, person_id=p)
        current = channels.consents_of(session=session, workspace_id=ws, person_id=p)
    assert [(h.channel, h.status, h.source) for h in history][-2:] == [
        (Channel.SMS, ConsentStatus.REVOKED, "sms_reply"),
        (Channel.EMAIL, ConsentStatus.REVOKED, "email_link"),
    ]
    assert {c.status for c in current} == {ConsentStatus.REVOKED}


def test_mini_program_sends_spend_the_subscription_ledger(
    db: sessionmaker[Session], ws: str
) -> None:
    p = make_person(db, ws, NOON, mp_openid="wxapp1:oOPENID")
    mp = {"channel": Channel.MINIPROGRAM, "template": "TPL_A", "purpose": Purpose.TRANSACTIONAL}
    assert send(db, ws, req(p, "m0", **mp)).reason is HoldReason.NO_SUBSCRIPTION
    with transaction(db) as session:
        for event in ("ev1", "ev1", "ev2"):  # the same accept event twice grants once
            balance = channels.grant_subscription(
                session=session,
                workspace_id=ws,
                person_id=p,
                template_id="TPL_A",
                event_key=event,
                now=NOON,
            )
    assert balance.remaining == 2
    results = [send(db, ws, req(p, f"m{n}", **mp)) for n in range(1, 4)]
    assert [r.status for r in results] == [
        MessageStatus.QUEUED,
        MessageStatus.QUEUED,
        MessageStatus.HELD,
    ]
    queued = row(db, results[0].message_id)
    assert (queued["recipient"], queued["extra"]) == ("oOPENID", {"app_id": "wxapp1"})
    with db() as session:
        left = channels.subscriptions_remaining(
            session=session, workspace_id=ws, person_id=p, template_id="TPL_A"
        )
    assert left.remaining == 0


def test_racing_enqueues_never_overspend_or_break_caps(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(
        db, ws, NOON, phone="13800138000", mp_openid="wxapp1:o1", consent=(Channel.SMS,)
    )
    with transaction(db) as session:
        channels.grant_subscription(
            session=session,
            workspace_id=ws,
            person_id=p,
            template_id="T",
            event_key="e",
            count=3,
            now=NOON,
        )
    mp = {"channel": Channel.MINIPROGRAM, "template": "T", "purpose": Purpose.TRANSACTIONAL}

    def mini(n: int) -> MessageStatus:
        return send(db, ws, req(p, f"mp{n}", **mp)).status

    def sms(n: int) -> MessageStatus:
        return send(db, ws, req(p, f"sms{n}")).status

    with ThreadPoolExecutor(8) as pool:
        minis = list(pool.map(mini, range(10)))
        smss = list(pool.map(sms, range(6)))
    assert minis.count(MessageStatus.QUEUED) == 3
    assert smss.count(MessageStatus.QUEUED) == 1  # the daily cap, under concurrency
    with db() as session:
        left = channels.subscriptions_remaining(
            session=session, workspace_id=ws, person_id=p, template_id="T"
        )
    assert left.remaining == 0


def test_forecast_for_a_dry_run_sees_what_is_queued(db: sessionmaker[Session], ws: str) -> None:
    p = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    send(db, ws, req(p, "already"))
    plan = [
        PlannedSend(p, Channel.SMS, NOON + timedelta(hours=1)),
        PlannedSend(p, Channel.SMS, NOON + timedelta(days=1)),
    ]
    with db() as session:
        out = channels.forecast_holds(session=session, workspace_id=ws, planned=plan, now=NOON)
    assert (out.planned, out.held, out.by_reason) == (2, 1, {"daily_cap": 1})


def test_a_batch_decides_in_order_and_answers_repeats(db: sessionmaker[Session], ws: str) -> None:
    a = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    b = make_person(db, ws, NOON, phone="13900139000")  # no consent
    batch = [
        req(a, "a1", priority=1),
        req(b, "b1"),
        req(a, "a2", priority=1),  # capped by a1 in the same batch
        req(a, "a1", priority=1),  # a repeat inside the batch
        req(a, "a3", priority=5),  # bumps a1, which is not even written yet
    ]
    with transaction(db) as session:
        out = channels.enqueue_many(session=session, workspace_id=ws, requests=batch, now=NOON)
    assert [(r.status, r.reason, r.duplicate) for r in out] == [
        (MessageStatus.HELD, HoldReason.LOWER_PRIORITY, False),
        (MessageStatus.HELD, HoldReason.NO_CONSENT, False),
        (MessageStatus.HELD, HoldReason.DAILY_CAP, False),
        (MessageStatus.HELD, HoldReason.LOWER_PRIORITY, True),
        (MessageStatus.QUEUED, None, False),
    ]
    assert out[3].message_id == out[0].message_id
    assert row(db, out[0].message_id)["reason"] == "lower_priority"
    with transaction(db) as session:
        again = channels.enqueue_many(
            session=session, workspace_id=ws, requests=batch[:2], now=NOON
        )
    assert [r.message_id for r in again] == [out[0].message_id, out[1].message_id]
    assert all(r.duplicate for r in again)


def test_quiet_hours_follow_the_persons_timezone_trait(db: sessionmaker[Session], ws: str) -> None:
    berlin = make_person(db, ws, NOON, phone="13800138001", consent=(Channel.SMS,))
    home = make_person(db, ws, NOON, phone="13800138002", consent=(Channel.SMS,))
    with transaction(db) as session:
        session.execute(
            profile_traits.insert().values(
                workspace_id=ws,
                person_id=berlin,
                name="timezone",
                value="Europe/Berlin",
                observed_at=NOON,
            )
        )
    late = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, 15:30 in Berlin
    away = send(db, ws, req(berlin, "b"), now=late)
    there = send(db, ws, req(home, "h"), now=late)
    assert row(db, away.message_id)["deferred"] is False
    assert row(db, there.message_id)["deferred"] is True
    with pytest.raises(ValueError, match="unknown time zone"):
        RestraintPolicy(zone="Mars/Olympus")


def test_a_revoke_on_a_merged_person_wins(db: sessionmaker[Session], ws: str) -> None:
    kept = make_person(db, ws, NOON, phone="13800138000", consent=(Channel.SMS,))
    other = make_person(db, ws, NOON, user_id="u-9")
    with transaction(db) as session:
        channels.set_consent(
            session=session,
            workspace_id=ws,
            person_id=other,
            channel=Channel.SMS,
            status=ConsentStatus.REVOKED,
            source="api",
            now=NOON,
        )
    # One message carries both identifiers: the two persons become one.
    merged = make_person(db, ws, NOON, phone="13800138000", user_id="u-9")
    assert merged in {kept, other}
    for person in (kept, other):
        assert send(db, ws, req(person, f"after-{person}")).reason is HoldReason.UNSUBSCRIBED


def test_a_bumped_mini_program_message_gives_its_subscription_back(
    db: sessionmaker[Session], ws: str
) -> None:
    p = make_person(db, ws, NOON, mp_openid="wxapp1:o1")
    with transaction(db) as session:
        channels.grant_subscription(
            session=session, workspace_id=ws, person_id=p, template_id="T", event_key="e", now=NOON
        )
        channels.grant_subscription(
            session=session, workspace_id=ws, person_id=p, template_id="U", event_key="f", now=NOON
        )
    low = send(db, ws, req(p, "low", channel=Channel.MINIPROGRAM, template="T", priority=1))
    high = send(db, ws, req(p, "high", channel=Channel.MINIPROGRAM, template="U", priority=9))
    assert low.status is MessageStatus.QUEUED and high.status is MessageStatus.QUEUED
    assert row(db, low.message_id)["reason"] == "lower_priority"
    with db() as session:
        left = channels.subscriptions_remaining(
            session=session, workspace_id=ws, person_id=p, template_id="T"
        )
    assert left.remaining == 1  # the bumped message's subscription is usable again
